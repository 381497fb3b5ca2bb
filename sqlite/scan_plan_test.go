package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/sqlite"
	"github.com/paygate/paygate/storetest"
)

// TestScanBookPlans: a day's scan of one channel's payments is, as the
// day's scan of every payment was before migration 11 (through
// orders_paid_day_idx), a search of one slice of a covering index (the
// channel's, orders_paid_day_<channel>_idx) in channel-number order: no
// table read, no sort. A margin's payments are found through
// orders_paid_at_idx (channel, paid_at) and sorted (few rows), and the
// refunds through refunds_succeeded_at_idx, each order read by its key.
func TestScanBookPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "paygate.db"), newSealer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := sqlite.MigrateUpTo(ctx, s.DB(), 10); err != nil {
		t.Fatal(err)
	}
	from, to := storetest.BenchDay()
	storetest.LoadPaidOrders(t, s, 5000, from, to)
	before, err := s.BookScanPlans(ctx, "", from, to, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("migration 10, the day's payments:\n%s", before["day"])
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// WeChat Pay's orders leave Alipay's day index as it was: Alipay's
	// scan reads what it read alone.
	alipayPages, err := s.IndexPages(ctx, "orders_paid_day_alipay_idx")
	if err != nil {
		t.Fatal(err)
	}
	storetest.LoadPaidOrdersOn(t, s, paygate.ChannelWechat, 5000, from, to)
	if _, err := s.DB().ExecContext(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	if got, err := s.IndexPages(ctx, "orders_paid_day_alipay_idx"); err != nil || got != alipayPages {
		t.Errorf("Alipay's day index: %d pages after WeChat Pay's orders were added (%v), %d before", got, err, alipayPages)
	}
	for _, ch := range paygate.ReconChannels {
		after, err := s.BookScanPlans(ctx, ch, from, to, false)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("migration 11, %s:\nday: %s\nmargin: %s\nrefunds: %s", ch, after["day"], after["margin"], after["refunds"])
		for name, plan := range map[string]string{"before": before["day"], "after": after["day"]} {
			index := "orders_paid_day_idx"
			if name == "after" {
				index = "orders_paid_day_" + string(ch) + "_idx"
			}
			if !strings.Contains(plan, "USING COVERING INDEX "+index+" ") || strings.Contains(plan, "TEMP B-TREE") {
				t.Errorf("%s: the day's scan is not a walk of the covering day index %s:\n%s", name, index, plan)
			}
		}
		if !strings.Contains(after["margin"], "orders_paid_at_idx (channel=? AND paid_at>? AND paid_at<?)") {
			t.Errorf("a margin's scan:\n%s", after["margin"])
		}
		if !strings.Contains(after["refunds"], "refunds_succeeded_at_idx") || !strings.Contains(after["refunds"], "INTEGER PRIMARY KEY") {
			t.Errorf("the refunds' scan:\n%s", after["refunds"])
		}
	}
}
