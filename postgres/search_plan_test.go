package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/postgres"
)

// TestSearchOrdersUsesIndexes: on a few thousand orders, each criterion of
// the console's order search is served by an index in the generic plan a
// prepared statement settles on, not by a scan of every order.
func TestSearchOrdersUsesIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, postgres.WithMigrate())
	m := &paygate.Merchant{Name: "Shop", AccessKey: "ak_plan", SecretKey: "sk_plan", WebhookSecret: "whsec_plan", CreatedAt: time.Now()}
	if err := s.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	o := &paygate.Order{MerchantID: m.ID, OutTradeNo: "otn", ChannelNo: "ch", Mode: paygate.ModeQR, Subject: "coffee",
		TotalAmount: 500, Status: paygate.StatusPending, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	if err := s.CloneOrder(ctx, o.ID, 5000); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		q     paygate.OrderSearch
		index string
	}{
		{"out_trade_no", paygate.OrderSearch{OutTradeNo: "otn_1"}, "orders_out_trade_no_idx"},
		{"trade_no", paygate.OrderSearch{TradeNo: "T17"}, "orders_trade_no_idx"},
	} {
		plan, err := s.SearchOrdersGenericPlan(ctx, c.q)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, c.index) {
			t.Errorf("search by %s: generic plan\n%s\ndoes not use %s", c.name, plan, c.index)
		}
	}
}
