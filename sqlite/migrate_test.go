package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

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

// TestMigrateReconciliationChannel: migration 11 makes every report stored
// before it Alipay's, with its differences (their IDs kept, and new ones
// after them), cross-day entries and repairs; a WeChat Pay report of the
// same day then sits beside it. Its Down keeps Alipay's reports only, and
// the schema migrates again.
func TestMigrateReconciliationChannel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "paygate.db"), newSealer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := sqlite.MigrateUpTo(ctx, s.DB(), 10); err != nil {
		t.Fatalf("migrate to 10: %v", err)
	}
	const day = "2026-03-04"
	var oldID int64
	for _, q := range []string{
		`INSERT INTO reconciliations (day, status, started_at, finished_at) VALUES ('2026-03-04', 'done', 1, 2)`,
		`INSERT INTO reconciliation_crossday (day, kind, channel_no, book_day, bill_day, carried) VALUES ('2026-03-04', 'payment', 'PGN', '2026-03-04', '2026-03-05', 1)`,
		`INSERT INTO reconciliation_repairs (day, kind, channel_no, created_at) VALUES ('2026-03-04', 'status_mismatch', 'PGR', 1)`,
	} {
		if _, err := s.DB().ExecContext(ctx, q); err != nil {
			t.Fatalf("at version 10: %s: %v", q, err)
		}
	}
	if err := s.DB().QueryRowContext(ctx, `INSERT INTO reconciliation_differences (day, kind, channel_no, created_at)
		VALUES ('2026-03-04', 'missing_local', 'PGX', 1) RETURNING id`).Scan(&oldID); err != nil {
		t.Fatalf("insert a difference at version 10: %v", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	old, err := s.Reconciliation(ctx, day, paygate.ChannelAlipay)
	if err != nil {
		t.Fatalf("the old report after migrating: %v", err)
	}
	if len(old.Differences) != 1 || old.Differences[0].ID != oldID || old.Differences[0].BillChannel != paygate.ChannelAlipay ||
		len(old.CrossDay) != 1 || len(old.RepairLog) != 1 || old.RepairLog[0].BillChannel != paygate.ChannelAlipay {
		t.Fatalf("the old report after migrating: %+v", old)
	}
	wx := &paygate.Reconciliation{Day: day, Channel: paygate.ChannelWechat, Status: paygate.ReconDone,
		StartedAt: time.Now(), FinishedAt: time.Now(), DifferenceCount: 1,
		Differences: []*paygate.ReconDifference{{Kind: paygate.ReconMissingLocal, ChannelNo: "PGW"}}}
	if err := s.SaveReconciliation(ctx, wx); err != nil {
		t.Fatalf("a WeChat Pay report beside it: %v", err)
	}
	if wx.Differences[0].ID <= oldID {
		t.Fatalf("a new difference's ID %d after the old %d", wx.Differences[0].ID, oldID)
	}
	if _, err := s.Reconciliation(ctx, day, paygate.ChannelAlipay); err != nil {
		t.Fatalf("Alipay's report after WeChat Pay's was saved: %v", err)
	}

	if err := sqlite.MigrateDownTo(ctx, s.DB(), 10); err != nil {
		t.Fatalf("migrate down to 10: %v", err)
	}
	for table, want := range map[string]int{"reconciliations": 1, "reconciliation_differences": 1, "reconciliation_crossday": 1, "reconciliation_repairs": 1} {
		var n int
		if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil || n != want {
			t.Fatalf("%s after the Down: %d rows, %v; want %d (Alipay's)", table, n, err, want)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	if _, err := s.Reconciliation(ctx, day, paygate.ChannelAlipay); err != nil {
		t.Fatalf("Alipay's report after migrating again: %v", err)
	}
	rows, err := s.DB().QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if rows.Next() {
		t.Fatal("PRAGMA foreign_key_check finds rows after the rebuilds")
	}
}
