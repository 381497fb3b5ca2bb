package chaos

import (
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/client"
)

// TestCheckOrderMapping checks the checker: each row of checkOrder's table,
// consistent and not, on made-up truth, without any process.
func TestCheckOrderMapping(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	past, future := now.Add(-time.Minute), now.Add(time.Hour)
	paid := &past
	order := func(status, refunded string) client.Order {
		return client.Order{OutTradeNo: "O1", Status: status, TotalAmount: "10.00", RefundedAmount: refunded, ExpiresAt: &past}
	}
	trade := func(status, fee string, mod func(*simTrade)) []simTrade {
		tr := simTrade{AppID: appID, OutTradeNo: "PG1", TradeStatus: status, TotalAmount: "10.00", RefundFee: fee, Subject: "chaos-O1"}
		if mod != nil {
			mod(&tr)
		}
		return []simTrade{tr}
	}
	refunds := func(kv ...string) []client.Refund {
		var out []client.Refund
		for i := 0; i+2 < len(kv)+1; i += 3 {
			out = append(out, client.Refund{OutRequestNo: kv[i], Amount: kv[i+1], Status: kv[i+2]})
		}
		return out
	}
	ev := func(kv ...string) map[string][]string {
		m := map[string][]string{}
		for i, typ := range kv {
			m[typ] = append(m[typ], "evt_"+string(rune('a'+i)))
		}
		return m
	}
	cases := []struct {
		name    string
		o       *client.Order
		trades  []simTrade
		refunds []client.Refund
		events  map[string][]string
		want    []string // substrings of the mismatches, none when empty
		late    bool
	}{
		{name: "paid, partly refunded, in step",
			o:       ptr(order("paid", "3.00")),
			trades:  trade("TRADE_SUCCESS", "3.00", func(t *simTrade) { t.PaidAt = paid; t.Refunds = []simRefund{{OutRequestNo: "R1", Amount: "3.00"}} }),
			refunds: refunds("R1", "3.00", "succeeded", "R2", "9.00", "failed"),
			events:  ev("order.paid", "refund.succeeded")},
		{name: "closed, no trade at the channel", o: ptr(order("closed", "0.00")), events: ev("order.closed")},
		{name: "closed, code voided", o: ptr(order("closed", "0.00")), events: ev("order.closed"),
			trades: trade("", "0.00", func(t *simTrade) { t.Voided = "cancel"; t.CodeExpires = &future })},
		{name: "closed, code still payable", o: ptr(order("closed", "0.00")), events: ev("order.closed"),
			trades: trade("", "0.00", func(t *simTrade) { t.CodeExpires = &future }), want: []string{"payable"}},
		{name: "closed here, paid there: money lost", o: ptr(order("closed", "0.00")), events: ev("order.closed"),
			trades: trade("TRADE_SUCCESS", "0.00", func(t *simTrade) { t.PaidAt = paid }), want: []string{"status closed, the channel says paid"}},
		{name: "refunded in steps", o: ptr(order("refunded", "10.00")),
			trades: trade("TRADE_CLOSED", "10.00", func(t *simTrade) {
				t.PaidAt, t.CloseReason = paid, "refund"
				t.Refunds = []simRefund{{OutRequestNo: "R1", Amount: "4.00"}, {OutRequestNo: "R2", Amount: "6.00"}}
			}),
			refunds: refunds("R1", "4.00", "succeeded", "R2", "6.00", "succeeded"),
			events:  ev("order.paid", "refund.succeeded", "refund.succeeded")},
		{name: "refunded twice at the gateway, once at the channel", o: ptr(order("refunded", "10.00")),
			trades: trade("TRADE_SUCCESS", "4.00", func(t *simTrade) {
				t.PaidAt = paid
				t.Refunds = []simRefund{{OutRequestNo: "R1", Amount: "4.00"}}
			}),
			refunds: refunds("R1", "4.00", "succeeded", "R2", "6.00", "succeeded"),
			events:  ev("order.paid", "refund.succeeded", "refund.succeeded"),
			want:    []string{"refund_fee is 4.00", "R2 (6.00) succeeded but the channel has 0.00", "status refunded"}},
		{name: "barcode cancelled after payment, never reported", o: ptr(order("closed", "0.00")), events: ev("order.closed"),
			trades: trade("TRADE_CLOSED", "10.00", func(t *simTrade) {
				t.PaidAt, t.CloseReason, t.CancelAction = paid, "cancel", "refund"
				t.Refunds = []simRefund{{OutRequestNo: "PG1", Amount: "10.00", ByCancel: true}}
			})},
		{name: "barcode cancelled after a reported payment", o: ptr(order("refunded", "10.00")),
			refunds: refunds("cancel_PG1", "10.00", "succeeded"), events: ev("order.paid", "refund.succeeded"),
			trades: trade("TRADE_CLOSED", "10.00", func(t *simTrade) {
				t.PaidAt, t.CloseReason, t.CancelAction = paid, "cancel", "refund"
				t.Refunds = []simRefund{{OutRequestNo: "PG1", Amount: "10.00", ByCancel: true}}
			})},
		{name: "late payment refunded by policy", o: ptr(order("closed", "0.00")), events: ev("order.closed", "order.late_payment"), late: true,
			trades: trade("TRADE_CLOSED", "10.00", func(t *simTrade) {
				t.PaidAt, t.CloseReason = paid, "refund"
				t.Refunds = []simRefund{{OutRequestNo: "late_PG1", Amount: "10.00"}}
			})},
		{name: "still waiting for the buyer", o: ptr(order("closed", "0.00")), events: ev("order.closed"),
			trades: trade("WAIT_BUYER_PAY", "0.00", nil), want: []string{"WAIT_BUYER_PAY"}},
		{name: "stuck pending", o: ptr(order("pending", "0.00")), trades: trade("", "0.00", func(t *simTrade) { t.CodeExpires = &future }),
			want: []string{"stuck pending"}},
		{name: "refund pending at quiet", o: ptr(order("paid", "0.00")),
			trades:  trade("TRADE_SUCCESS", "0.00", func(t *simTrade) { t.PaidAt = paid }),
			refunds: refunds("R1", "1.00", "pending"), events: ev("order.paid"), want: []string{"still pending at quiet"}},
		{name: "two paid events", o: ptr(order("paid", "0.00")),
			trades: trade("TRADE_SUCCESS", "0.00", func(t *simTrade) { t.PaidAt = paid }),
			events: ev("order.paid", "order.paid"), want: []string{"2 order.paid events (want 1)"}},
		{name: "a missing closed event", o: ptr(order("closed", "0.00")), want: []string{"0 order.closed events (want 1)"}},
		{name: "lost order", trades: trade("TRADE_SUCCESS", "0.00", func(t *simTrade) { t.PaidAt = paid }),
			want: []string{"does not list the order"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &orderRec{No: "O1", Amount: 1000, Answered: true, CreateResp: "201 pending"}
			tr := &truth{orders: map[string]client.Order{}, refunds: map[string][]client.Refund{"O1": c.refunds}, trades: map[string][]simTrade{"O1": c.trades}}
			if c.o != nil {
				tr.orders["O1"] = *c.o
			}
			var oc outcome
			ms := checkOrder(r, tr, c.events, now, &oc)
			var got []string
			for _, m := range ms {
				got = append(got, m.Msg)
			}
			if len(c.want) == 0 && len(got) > 0 {
				t.Fatalf("mismatches %q, want none", got)
			}
			for _, w := range c.want {
				found := false
				for _, g := range got {
					found = found || strings.Contains(g, w)
				}
				if !found {
					t.Errorf("no mismatch mentions %q; got %q", w, got)
				}
			}
			if c.late != (oc.latePayments == 1) {
				t.Errorf("late payments counted %d, want late=%v", oc.latePayments, c.late)
			}
		})
	}
}

func TestFen(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "": 0, "0.01": 1, "1.5": 150, "99.99": 9999, "100000000.00": 10000000000} {
		if got, err := fen(in); err != nil || got != want {
			t.Errorf("fen(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"1.001", "x", "1.x"} {
		if _, err := fen(in); err == nil {
			t.Errorf("fen(%q) succeeded", in)
		}
	}
}

func ptr[T any](v T) *T { return &v }
