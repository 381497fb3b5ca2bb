package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paygate/paygate"
)

// TestSearchOrdersUsesIndexes: each criterion of the console's order
// search is served by an index, not a scan of every order.
func TestSearchOrdersUsesIndexes(t *testing.T) {
	t.Parallel()
	s := open(t, filepath.Join(t.TempDir(), "paygate.db"))
	for _, c := range []struct {
		name  string
		q     paygate.OrderSearch
		index string
	}{
		{"out_trade_no", paygate.OrderSearch{OutTradeNo: "otn_1"}, "orders_out_trade_no_idx"},
		{"trade_no", paygate.OrderSearch{TradeNo: "2026010122001400000001"}, "orders_trade_no_idx"},
		{"status", paygate.OrderSearch{Status: paygate.StatusPaid}, "orders_status_id_idx"},
	} {
		plan, err := s.SearchOrdersPlan(context.Background(), c.q)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, c.index) {
			t.Errorf("search by %s: plan\n%s\ndoes not use %s", c.name, plan, c.index)
		}
	}
}
