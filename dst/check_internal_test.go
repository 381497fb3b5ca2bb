package dst

import (
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
)

// TestCheckOrder: the mapping from the channel's truth to the status the
// order must have, the claims and the events, on the cases.
func TestCheckOrder(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cancelRefunded := alipaysim.TradeView{TradeStatus: alipay.TradeClosed, TotalAmount: 53464, RefundFee: 53464,
		CloseReason: "cancel", CancelAction: "refund", PaidAt: &at,
		Refunds: []alipaysim.RefundView{{OutRequestNo: "ch1", Amount: 53464, ByCancel: true}}}
	paid := alipaysim.TradeView{TradeStatus: alipay.TradeSuccess, TotalAmount: 1000, PaidAt: &at, Refunds: []alipaysim.RefundView{}}
	partly := paid
	partly.RefundFee = 400
	partly.Refunds = []alipaysim.RefundView{{OutRequestNo: "r1", Amount: 400}}
	closed := alipaysim.TradeView{TradeStatus: alipay.TradeClosed, TotalAmount: 1000, CloseReason: "cancel", CancelAction: "close"}
	ok := func(no string, a paygate.Money) *paygate.Refund {
		return &paygate.Refund{OutRequestNo: no, Amount: a, Status: paygate.RefundSucceeded}
	}
	cases := []struct {
		name    string
		order   paygate.Order
		refunds []*paygate.Refund
		events  map[string]int
		trade   *alipaysim.TradeView
		claim   *Claim
		want    []string // substrings of the mismatches, in order; none: clean
	}{
		{name: "the issue: paid here, cancelled with a refund there",
			order: paygate.Order{Status: paygate.StatusPaid, TotalAmount: 53464}, events: map[string]int{paygate.EventOrderPaid: 1},
			trade: &cancelRefunded, want: []string{"status paid, the channel says closed"}},
		{name: "cancelled with a refund, closed here",
			order: paygate.Order{Status: paygate.StatusClosed, TotalAmount: 53464}, events: map[string]int{paygate.EventOrderClosed: 1},
			trade: &cancelRefunded},
		{name: "paid and partly refunded",
			order:   paygate.Order{Status: paygate.StatusPaid, TotalAmount: 1000, RefundedAmount: 400},
			refunds: []*paygate.Refund{ok("r1", 400)}, events: map[string]int{paygate.EventOrderPaid: 1, paygate.EventRefundSucceeded: 1},
			trade: &partly, claim: &Claim{Told: paygate.StatusPaid, RefundsOK: map[string]bool{"r1": true}}},
		{name: "a refund the channel made but the gateway lost",
			order: paygate.Order{Status: paygate.StatusPaid, TotalAmount: 1000}, events: map[string]int{paygate.EventOrderPaid: 1},
			trade: &partly, want: []string{"refunded_amount 0.00 but the channel's refund_fee is 4.00", "the channel refunded r1"}},
		{name: "told paid, ended closed",
			order: paygate.Order{Status: paygate.StatusClosed, TotalAmount: 1000}, events: map[string]int{paygate.EventOrderClosed: 1},
			trade: &closed, claim: &Claim{Told: paygate.StatusPaid}, want: []string{"the shop was told paid"}},
		{name: "two paid events",
			order: paygate.Order{Status: paygate.StatusPaid, TotalAmount: 1000}, events: map[string]int{paygate.EventOrderPaid: 2},
			trade: &paid, want: []string{"2 order.paid events (want 1)"}},
		{name: "stuck pending",
			order: paygate.Order{Status: paygate.StatusPending, TotalAmount: 1000}, trade: &paid,
			want: []string{"stuck pending after recovery"}},
		{name: "no trade, closed", order: paygate.Order{Status: paygate.StatusClosed, TotalAmount: 1000},
			events: map[string]int{paygate.EventOrderClosed: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var trades []alipaysim.TradeView
			if c.trade != nil {
				trades = []alipaysim.TradeView{*c.trade}
			}
			got := checkOrder(&c.order, c.refunds, c.events, trades, c.claim)
			if len(got) != len(c.want) {
				t.Fatalf("mismatches %q; want %d like %q", got, len(c.want), c.want)
			}
			for i, w := range c.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("mismatch %d is %q; want it to say %q", i, got[i], w)
				}
			}
		})
	}
}
