package faultstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/faultstore"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/postgres/pgtest"
	"github.com/paygate/paygate/sqlite"
)

func sealer(t *testing.T) *paygate.Sealer {
	t.Helper()
	k := make([]byte, 32)
	rand.Read(k)
	s, err := paygate.NewSealer(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// stores runs fn on SQLite and, when PAYGATE_TEST_POSTGRES_URL is set, on
// PostgreSQL (pgtest skips or fails in CI without it).
func stores(t *testing.T, fn func(t *testing.T, open func(t *testing.T) paygate.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, func(t *testing.T) paygate.Store {
			s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "paygate.db"), sealer(t), sqlite.WithMigrate())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, func(t *testing.T) paygate.Store { return pgtest.Open(t, sealer(t), postgres.WithMigrate()) })
	})
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// seed creates a merchant and a pending order through the inner store.
func seed(t *testing.T, s paygate.Store) *paygate.Order {
	t.Helper()
	ctx := context.Background()
	m := &paygate.Merchant{Name: "shop", AccessKey: "ak_" + rand.Text(), SecretKey: "sk", WebhookSecret: "wh", CreatedAt: t0}
	if err := s.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	o := &paygate.Order{MerchantID: m.ID, OutTradeNo: "o1", ChannelNo: "ch_" + rand.Text(), Mode: paygate.ModeQR,
		Subject: "coffee", TotalAmount: 500, Status: paygate.StatusPending, ParamsHash: "h",
		CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	return o
}

// pay marks the order paid in a transaction: calls Tx (1),
// Tx.OrderForUpdate (2), Tx.UpdateOrder (3), Tx.commit (4).
func pay(ctx context.Context, s paygate.Store, id int64) error {
	return s.Tx(ctx, func(tx paygate.StoreTx) error {
		o, err := tx.OrderForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if err := o.Transition(paygate.StatusPaid, t0.Add(time.Minute)); err != nil {
			return err
		}
		return tx.UpdateOrder(ctx, o)
	})
}

// TestFaults: each call of a transaction fails before (nothing written) or
// after (the commit's effect stays), with a driver-like network error.
func TestFaults(t *testing.T) {
	stores(t, func(t *testing.T, open func(t *testing.T) paygate.Store) {
		inner := open(t)
		cases := []struct {
			n         int
			when      faultstore.When
			method    string
			wantPaid  bool
			wantNetOp string
		}{
			{1, faultstore.Before, "Tx", false, "write"},
			{2, faultstore.Before, "Tx.OrderForUpdate", false, "write"},
			{3, faultstore.Before, "Tx.UpdateOrder", false, "write"},
			{3, faultstore.After, "Tx.UpdateOrder", false, "read"}, // pay gives up: rolled back
			{4, faultstore.Before, "Tx.commit", false, "write"},
			{4, faultstore.After, "Tx.commit", true, "read"},
		}
		for _, c := range cases {
			t.Run(fmt.Sprintf("%d_%s", c.n, c.when), func(t *testing.T) {
				ctx := context.Background()
				o := seed(t, inner)
				s := faultstore.New(inner)
				s.SetPlan(faultstore.FailAt(c.n, c.when))
				err := pay(ctx, s, o.ID)
				var fe *faultstore.Error
				if !errors.As(err, &fe) || fe.Call.Method != c.method || fe.When != c.when || !errors.Is(err, faultstore.ErrInjected) {
					t.Fatalf("err = %v; want an injected fault %s %s", err, c.when, c.method)
				}
				var op *net.OpError
				if !errors.As(err, &op) || op.Op != c.wantNetOp {
					t.Fatalf("err = %v; want a *net.OpError %s", err, c.wantNetOp)
				}
				if c.when == faultstore.Before && !errors.Is(err, syscall.ECONNRESET) || c.when == faultstore.After && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("err = %v: not a connection reset (before) or unexpected EOF (after)", err)
				}
				got, err := inner.OrderByOutTradeNo(ctx, o.MerchantID, o.OutTradeNo)
				if err != nil {
					t.Fatal(err)
				}
				if paid := got.Status == paygate.StatusPaid; paid != c.wantPaid {
					t.Fatalf("status %s; want paid=%v", got.Status, c.wantPaid)
				}
				if s.Injected() != 1 {
					t.Fatalf("Injected = %d", s.Injected())
				}
			})
		}
	})
}

// TestCountAndHook: every call is counted in order; the hook runs before
// calls outside transactions only, may use the store itself, and its calls
// are counted without running it again.
func TestCountAndHook(t *testing.T) {
	stores(t, func(t *testing.T, open func(t *testing.T) paygate.Store) {
		ctx := context.Background()
		inner := open(t)
		o := seed(t, inner)
		s := faultstore.New(inner)
		var seen []string
		s.OnCall(func(c faultstore.Call) {
			seen = append(seen, c.Method)
			if c.Method == "Tx" {
				if _, err := s.OrderByChannelNo(ctx, o.ChannelNo); err != nil { // from the hook
					t.Error(err)
				}
			}
		})
		var methods []string
		s.SetPlan(func(c faultstore.Call) faultstore.When {
			methods = append(methods, c.String())
			return faultstore.None
		})
		if err := pay(ctx, s, o.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.OrderByOutTradeNo(ctx, o.MerchantID, o.OutTradeNo); err != nil {
			t.Fatal(err)
		}
		want := []string{"#1 OrderByChannelNo", "#2 Tx", "#3 Tx.OrderForUpdate", "#4 Tx.UpdateOrder", "#5 Tx.commit", "#6 OrderByOutTradeNo"}
		if fmt.Sprint(methods) != fmt.Sprint(want) {
			t.Fatalf("calls %v; want %v", methods, want)
		}
		if fmt.Sprint(seen) != "[Tx OrderByOutTradeNo]" {
			t.Fatalf("hook saw %v; want [Tx OrderByOutTradeNo]", seen)
		}
		if s.Calls() != 6 {
			t.Fatalf("Calls = %d", s.Calls())
		}
		s.Reset()
		if s.Calls() != 0 {
			t.Fatalf("after Reset Calls = %d", s.Calls())
		}
	})
}

// TestOutsideTx: a call outside a transaction failed after it happened has
// taken effect; failed before, it has not.
func TestOutsideTx(t *testing.T) {
	stores(t, func(t *testing.T, open func(t *testing.T) paygate.Store) {
		ctx := context.Background()
		inner := open(t)
		for _, w := range []faultstore.When{faultstore.Before, faultstore.After} {
			s := faultstore.New(inner)
			s.SetPlan(faultstore.FailAt(1, w))
			m := &paygate.Merchant{Name: "shop", AccessKey: "ak_" + rand.Text(), SecretKey: "sk", WebhookSecret: "wh", CreatedAt: t0}
			if err := s.CreateMerchant(ctx, m); !errors.Is(err, faultstore.ErrInjected) {
				t.Fatalf("%s: err = %v; want an injected fault", w, err)
			}
			_, err := inner.MerchantByAccessKey(ctx, m.AccessKey)
			if exists := err == nil; exists != (w == faultstore.After) {
				t.Fatalf("%s: merchant exists %v (%v)", w, exists, err)
			}
		}
	})
}

// TestAfterCommit: AfterCommit functions run when the transaction
// committed, even if the caller was told it failed, and never on rollback.
func TestAfterCommit(t *testing.T) {
	stores(t, func(t *testing.T, open func(t *testing.T) paygate.Store) {
		ctx := context.Background()
		inner := open(t)
		o := seed(t, inner)
		cases := []struct {
			plan    func(faultstore.Call) faultstore.When
			wantRan bool
		}{
			{nil, true},
			{faultstore.FailAt(3, faultstore.Before), false}, // Tx.commit before: rolled back
			{faultstore.FailAt(3, faultstore.After), true},   // Tx.commit after: committed, answer lost
			{faultstore.FailAt(2, faultstore.Before), false}, // Tx.OrderForUpdate failed
		}
		for i, c := range cases {
			s := faultstore.New(inner)
			s.SetPlan(c.plan)
			ran := false
			s.Tx(ctx, func(tx paygate.StoreTx) error {
				tx.(*faultstore.Tx).AfterCommit(func() { ran = true })
				_, err := tx.OrderForUpdate(ctx, o.ID)
				return err
			})
			if ran != c.wantRan {
				t.Errorf("case %d: ran %v, want %v", i, ran, c.wantRan)
			}
		}
	})
}
