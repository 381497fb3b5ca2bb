package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/sqlite"
)

// TestDatabaseBusy: a write lock held past the busy timeout (by another
// process on the same file: here a second store) is EDatabaseDown, 503 with
// Retry-After at the API, not an internal error; reads go on (WAL), and
// writes work again once the lock is released.
func TestDatabaseBusy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "paygate.db")
	holder := open(t, path)
	s, err := sqlite.Open(ctx, path, newSealer(t), sqlite.WithBusyTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := &paygate.Merchant{Name: "shop", AccessKey: "ak_busy", SecretKey: "sk", WebhookSecret: "wh"}
	if err := s.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}

	locked, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- holder.Tx(ctx, func(paygate.StoreTx) error {
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	if err := s.Tx(ctx, func(paygate.StoreTx) error { return nil }); paygate.ErrorCode(err) != paygate.EDatabaseDown {
		t.Errorf("transaction while another holds the lock: %v; want %s", err, paygate.EDatabaseDown)
	}
	err = s.CreateMerchant(ctx, &paygate.Merchant{Name: "b", AccessKey: "ak_busy2", SecretKey: "sk", WebhookSecret: "wh"})
	if paygate.ErrorCode(err) != paygate.EDatabaseDown {
		t.Errorf("write while another holds the lock: %v; want %s", err, paygate.EDatabaseDown)
	}
	if got, err := s.MerchantByAccessKey(ctx, "ak_busy"); err != nil || got.ID != m.ID {
		t.Errorf("read while another holds the lock: %+v, %v", got, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.CreateMerchant(ctx, &paygate.Merchant{Name: "b", AccessKey: "ak_busy2", SecretKey: "sk", WebhookSecret: "wh"}); err != nil {
		t.Fatalf("write after the lock was released: %v", err)
	}
}
