package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/sqlite"
)

// TestMigrateOrderChannel: migration 10 makes every order stored before it
// an Alipay order with no WeChat code, and its Down gives the schema back
// as it was (the order kept), ready to migrate again.
func TestMigrateOrderChannel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "paygate.db"), newSealer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := sqlite.MigrateUpTo(ctx, s.DB(), 9); err != nil {
		t.Fatalf("migrate to 9: %v", err)
	}
	m := &paygate.Merchant{Name: "Shop", AccessKey: "ak_1", SecretKey: "sk", WebhookSecret: "wh"}
	if err := s.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	const insertOld = `INSERT INTO orders (merchant_id, out_trade_no, channel_no, mode, subject, total_amount,
		status, qr_code, created_at, updated_at, expires_at) VALUES (?, ?, ?, 'qr', 'tea', 100, 'pending', ?, 1, 1, 2)`
	if _, err := s.DB().ExecContext(ctx, insertOld, m.ID, "OLD1", "PGOLD1", "https://qr.alipay.com/old"); err != nil {
		t.Fatalf("insert an order at version 9: %v", err)
	}
	wantOld := func(when string) {
		t.Helper()
		o, err := s.OrderByOutTradeNo(ctx, m.ID, "OLD1")
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if o.Channel != paygate.ChannelAlipay || o.WechatCode != "" || o.QRCode != "https://qr.alipay.com/old" {
			t.Fatalf("%s: channel %q, wechat code %q, qr code %q; want alipay, none, the old code", when, o.Channel, o.WechatCode, o.QRCode)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	wantOld("after migrating")

	if err := sqlite.MigrateDownTo(ctx, s.DB(), 9); err != nil {
		t.Fatalf("migrate down to 9: %v", err)
	}
	if _, err := s.DB().ExecContext(ctx, `SELECT channel FROM orders`); err == nil {
		t.Fatal("orders.channel is still there after the Down")
	}
	if _, err := s.DB().ExecContext(ctx, insertOld, m.ID, "OLD2", "PGOLD2", ""); err != nil {
		t.Fatalf("insert an order after the Down: %v", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	wantOld("after migrating again")
}
