package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/storetest"
)

// TestScanBookPlans: a day's scan of one channel's payments is, as the
// day's scan of every payment was before migration 11 (of
// orders_paid_day_idx), an index-only scan of an index (the channel's,
// orders_paid_day_<channel>_idx) in channel-number order, without a sort, in the
// custom plans of a prepared statement's first runs and in the generic
// plan it may settle on. A margin's payments are found through
// orders_paid_at_idx (channel, paid_at), the refunds through
// refunds_succeeded_at_idx before and after (joined to their orders as the
// planner sees fit: the channel is in the order's row).
func TestScanBookPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t)
	if err := postgres.MigrateUpTo(ctx, s.DB(), 10); err != nil {
		t.Fatal(err)
	}
	from, to := storetest.BenchDay()
	// A day in the middle of others, as a real table holds it, and a
	// refund of one order in ten, an hour after its payment.
	storetest.LoadPaidOrders(t, s, 20000, from.AddDate(0, 0, -2), to.AddDate(0, 0, 2))
	refundSome(t, s)
	if err := s.VacuumAnalyze(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := s.BookScanPlans(ctx, "", from, to, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("migration 10, the day's payments:\n%s\ngeneric:\n%s\nrefunds:\n%s", before["day"], before["day generic"], before["refunds"])
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// WeChat Pay's orders leave Alipay's day index as it was: Alipay's
	// scan reads what it read alone.
	alipayPages, err := s.IndexPages(ctx, "orders_paid_day_alipay_idx")
	if err != nil {
		t.Fatal(err)
	}
	storetest.LoadPaidOrdersOn(t, s, paygate.ChannelWechat, 20000, from.AddDate(0, 0, -2), to.AddDate(0, 0, 2))
	refundSome(t, s)
	if err := s.VacuumAnalyze(ctx); err != nil {
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
		t.Logf("migration 11, %s:\nday:\n%s\nday generic:\n%s\nmargin:\n%s\nrefunds:\n%s", ch, after["day"], after["day generic"],
			after["margin"], after["refunds"])
		// Migration 10's generic plan is logged, not checked: on a busy
		// database (a vacuum that cannot mark pages all-visible) its
		// planner has been seen to take orders_paid_at_idx and sort.
		for name, plan := range map[string]string{"before": before["day"], "after": after["day"], "after, generic": after["day generic"]} {
			index := "orders_paid_day_idx"
			if strings.HasPrefix(name, "after") {
				index = "orders_paid_day_" + string(ch) + "_idx"
			}
			if !strings.Contains(plan, "Index Only Scan using "+index+" ") || strings.Contains(plan, "Sort") {
				t.Errorf("%s: the day's scan is not an index-only scan of the day index %s without a sort:\n%s", name, index, plan)
			}
		}
		for _, name := range []string{"margin", "margin generic"} {
			if !strings.Contains(after[name], "orders_paid_at_idx") {
				t.Errorf("%s: a margin's scan:\n%s", name, after[name])
			}
		}
		for _, name := range []string{"refunds", "refunds generic"} {
			if !strings.Contains(after[name], "refunds_succeeded_at_idx") || !strings.Contains(before[name], "refunds_succeeded_at_idx") {
				t.Errorf("%s: the refunds' scan, before:\n%s\nafter:\n%s", name, before[name], after[name])
			}
		}
	}
}

// refundSome refunds one order in ten of s, an hour after its payment.
func refundSome(t *testing.T, s *postgres.Store) {
	t.Helper()
	if _, err := s.DB().Exec(context.Background(), `INSERT INTO refunds (order_id, merchant_id, out_trade_no, out_request_no,
		amount, status, created_at, updated_at, succeeded_at)
		SELECT id, merchant_id, out_trade_no, 'r1', 1, 'succeeded', paid_at, paid_at, paid_at + interval '1 hour'
		FROM orders WHERE id % 10 = 0 AND NOT EXISTS (SELECT 1 FROM refunds WHERE order_id = orders.id)`); err != nil {
		t.Fatal(err)
	}
}
