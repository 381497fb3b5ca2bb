package postgres_test

import (
	"context"
	"testing"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/postgres/pgtest"
)

// TestDatabaseUnavailable: a database that cannot be reached, at open or
// later, is EDatabaseDown (503 with Retry-After at the API), never an
// internal error; once it is back the same store works again. The
// database is taken away through a loopback proxy, never stopped.
func TestDatabaseUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, schema := pgtest.Schema(t)
	proxy := pgtest.NewProxy(t)
	sealer := newSealer(t)

	_, err := postgres.Open(ctx, proxy.URL(url), sealer, postgres.WithSearchPath(schema))
	if paygate.ErrorCode(err) != paygate.EDatabaseDown {
		t.Fatalf("open with nothing listening: %v; want %s", err, paygate.EDatabaseDown)
	}

	proxy.Start()
	s, err := postgres.Open(ctx, proxy.URL(url), sealer, postgres.WithSearchPath(schema), postgres.WithMigrate())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := &paygate.Merchant{Name: "shop", AccessKey: "ak_down", SecretKey: "sk", WebhookSecret: "wh"}
	if err := s.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OrderByOutTradeNo(ctx, m.ID, "NOPE"); paygate.ErrorCode(err) != paygate.ENotFound {
		t.Fatalf("a missing order while up: %v; want %s", err, paygate.ENotFound)
	}

	proxy.Stop() // open connections break, new ones are refused
	calls := []struct {
		name string
		call func() error
	}{
		{"ping", func() error { return s.Ping(ctx) }},
		{"read", func() error { _, err := s.MerchantByAccessKey(ctx, "ak_down"); return err }},
		{"write", func() error {
			return s.CreateMerchant(ctx, &paygate.Merchant{Name: "b", AccessKey: "ak_down2", SecretKey: "sk", WebhookSecret: "wh"})
		}},
		{"transaction", func() error {
			return s.Tx(ctx, func(tx paygate.StoreTx) error { _, err := tx.OrderForUpdate(ctx, 1); return err })
		}},
		{"order lookup", func() error { _, err := s.OrderByOutTradeNo(ctx, m.ID, "NOPE"); return err }},
	}
	for _, c := range calls {
		if err := c.call(); paygate.ErrorCode(err) != paygate.EDatabaseDown {
			t.Errorf("%s with the database gone: %v; want %s", c.name, err, paygate.EDatabaseDown)
		}
	}

	proxy.Start()
	if got, err := s.MerchantByAccessKey(ctx, "ak_down"); err != nil || got.ID != m.ID {
		t.Fatalf("after the database came back: %+v, %v", got, err)
	}
}
