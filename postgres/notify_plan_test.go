package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/postgres"
)

// TestNotificationPlansNeedNoStatistics: the statements of a paid
// notification's path (the order by its channel number, then locked and
// written back by its ID) are served by their unique indexes in the generic
// plan a prepared statement settles on, on thousands of orders never
// analyzed (a fresh database, or autovacuum off) as after ANALYZE: their
// cost does not depend on the table's statistics.
func TestNotificationPlansNeedNoStatistics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, postgres.WithMigrate())
	m := &paygate.Merchant{Name: "Shop", AccessKey: "ak_nplan", SecretKey: "sk_nplan", WebhookSecret: "whsec_nplan", CreatedAt: time.Now()}
	if err := s.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	orders := make([]*paygate.Order, 5000)
	for i := range orders {
		orders[i] = &paygate.Order{MerchantID: m.ID, OutTradeNo: fmt.Sprintf("otn_%d", i), ChannelNo: fmt.Sprintf("PG%016X", i),
			Mode: paygate.ModeQR, Subject: "coffee", TotalAmount: 990, Status: paygate.StatusPending,
			CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	if err := s.BulkInsertOrders(ctx, orders, nil); err != nil {
		t.Fatal(err)
	}
	o := orders[len(orders)/2]
	statements := []struct {
		name, query, index string
		args               []any
	}{
		{"OrderByChannelNo", postgres.OrderByChannelNoSQL, "orders_channel_no_key", []any{o.ChannelNo}},
		{"OrderForUpdate", postgres.OrderForUpdateSQL, "orders_pkey", []any{o.ID}},
		{"UpdateOrder", postgres.UpdateOrderSQL, "orders_pkey", []any{o.ChannelNo, "2026113022001", "paid", 0, "", "2088",
			now, o.ExpiresAt, now, nil, nil, "alipay", "", o.ID, 1}},
	}
	for _, analyzed := range []bool{false, true} {
		if analyzed {
			if _, err := s.DB().Exec(ctx, `ANALYZE orders`); err != nil {
				t.Fatal(err)
			}
		} else {
			var reltuples float64
			if err := s.DB().QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE oid = 'orders'::regclass`).Scan(&reltuples); err != nil {
				t.Fatal(err)
			}
			t.Logf("orders before ANALYZE: reltuples %v (-1: never analyzed nor vacuumed)", reltuples)
		}
		for _, st := range statements {
			plan, err := s.GenericPlan(ctx, st.query, st.args...)
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if !strings.Contains(plan, "Index Scan using "+st.index) || strings.Contains(plan, "Seq Scan") {
				t.Errorf("%s, analyzed %v: generic plan\n%s\ndoes not use %s", st.name, analyzed, plan, st.index)
			}
		}
	}
}
