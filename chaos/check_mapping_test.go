package chaos

import (
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/wechatpay"
	"github.com/paygate/paygate/wechatpaysim"
)

// TestCheckOrderMapping checks the checker: each row of checkSide's table,
// consistent and not, on made-up truth, without any process, for Alipay;
// then WeChat Pay's states through wxTrade, and auto orders against both
// channels.
func TestCheckOrderMapping(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	past, future := now.Add(-time.Minute), now.Add(time.Hour)
	paid := &past
	order := func(status, refunded string) client.Order {
		return client.Order{OutTradeNo: "O1", Channel: "alipay", Status: status, TotalAmount: "10.00", RefundedAmount: refunded, ExpiresAt: &past}
	}
	trade := func(status, fee string, mod func(*simTrade)) []simTrade {
		tr := simTrade{Channel: "alipay", AppID: appID, OutTradeNo: "PG1", TradeStatus: status, TotalAmount: "10.00", RefundFee: fee, Subject: "chaos-O1"}
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
		late    int
		rec     func(*orderRec) // the driver's record, when not an Alipay QR order
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
			trades: trade("TRADE_SUCCESS", "0.00", func(t *simTrade) { t.PaidAt = paid }), want: []string{"status closed, alipay says paid"}},
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
			want:    []string{"refund_fee is 4.00", "R2 (6.00) succeeded but alipay has 0.00", "status refunded"}},
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
		{name: "late payment refunded by policy", o: ptr(order("closed", "0.00")), events: ev("order.closed", "order.late_payment"), late: 1,
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
	// WeChat Pay: its states through wxTrade, its refunds by out_refund_no.
	wxOrder := func(status, refunded string) *client.Order {
		o := order(status, refunded)
		o.Channel = "wechat"
		return &o
	}
	wx := func(state string, mod func(*wechatpaysim.TradeView)) simTrade {
		v := wechatpaysim.TradeView{MchID: wxMchID, AppID: wxAppID, OutTradeNo: "PG1", TradeState: state, Total: 1000,
			Description: "chaos-O1", CreatedAt: past, PayBy: past, Refunds: []wechatpaysim.RefundView{}}
		if mod != nil {
			mod(&v)
		}
		return wxTrade(v)
	}
	wxPaid := func(v *wechatpaysim.TradeView) { v.PaidAt, v.TransactionID = paid, "4200000001" }
	wxRefund := func(no string, amount int64, status string) wechatpaysim.RefundView {
		return wechatpaysim.RefundView{OutRefundNo: no, Amount: amount, Status: status}
	}
	onWechat := func(r *orderRec) { r.Channel = "wechat" }
	cases = append(cases, []struct {
		name    string
		o       *client.Order
		trades  []simTrade
		refunds []client.Refund
		events  map[string][]string
		want    []string
		late    int
		rec     func(*orderRec)
	}{
		{name: "wechat: paid, partly refunded", rec: onWechat, o: wxOrder("paid", "3.00"),
			trades: []simTrade{wx(wechatpay.TradeRefund, func(v *wechatpaysim.TradeView) {
				wxPaid(v)
				v.Refunds = []wechatpaysim.RefundView{wxRefund("PG1-R1", 300, wechatpay.RefundSuccess)}
			})},
			refunds: refunds("R1", "3.00", "succeeded"), events: ev("order.paid", "refund.succeeded")},
		{name: "wechat: refunded in full in two steps", rec: onWechat, o: wxOrder("refunded", "10.00"),
			trades: []simTrade{wx(wechatpay.TradeRefund, func(v *wechatpaysim.TradeView) {
				wxPaid(v)
				v.Refunds = []wechatpaysim.RefundView{wxRefund("PG1-R1", 400, wechatpay.RefundSuccess), wxRefund("PG1-R2", 600, wechatpay.RefundSuccess)}
			})},
			refunds: refunds("R1", "4.00", "succeeded", "R2", "6.00", "succeeded"), events: ev("order.paid", "refund.succeeded", "refund.succeeded")},
		{name: "wechat: a refund the gateway has succeeded is still processing there", rec: onWechat, o: wxOrder("paid", "3.00"),
			trades: []simTrade{wx(wechatpay.TradeRefund, func(v *wechatpaysim.TradeView) {
				wxPaid(v)
				v.Refunds = []wechatpaysim.RefundView{wxRefund("PG1-R1", 300, wechatpay.RefundProcessing)}
			})},
			refunds: refunds("R1", "3.00", "succeeded"), events: ev("order.paid", "refund.succeeded"),
			want: []string{"still processing", "R1 (3.00) succeeded but wechat has 0.00"}},
		{name: "wechat: closed, NOTPAY past its time_expire", rec: onWechat, o: wxOrder("closed", "0.00"), events: ev("order.closed"),
			trades: []simTrade{wx(wechatpay.TradeNotPay, nil)}},
		{name: "wechat: closed, NOTPAY still payable", rec: onWechat, o: wxOrder("closed", "0.00"), events: ev("order.closed"),
			trades: []simTrade{wx(wechatpay.TradeNotPay, func(v *wechatpaysim.TradeView) { v.PayBy = future })}, want: []string{"payable"}},
		{name: "wechat: closed at WeChat Pay", rec: onWechat, o: wxOrder("closed", "0.00"), events: ev("order.closed"),
			trades: []simTrade{wx(wechatpay.TradeClosed, nil)}},
		{name: "wechat: no balance (PAYERROR)", rec: onWechat, o: wxOrder("closed", "0.00"), events: ev("order.closed"),
			trades: []simTrade{wx(wechatpay.TradePayError, nil)}},
		{name: "wechat: a payment code reversed after payment", rec: onWechat, o: wxOrder("closed", "0.00"), events: ev("order.closed"),
			trades: []simTrade{wx(wechatpay.TradeRevoked, func(v *wechatpaysim.TradeView) {
				wxPaid(v)
				v.Refunds = []wechatpaysim.RefundView{{OutRefundNo: "PG1", Amount: 1000, Status: wechatpay.RefundSuccess, ByReverse: true}}
			})}},
		{name: "wechat: still USERPAYING", rec: onWechat, o: wxOrder("closed", "0.00"), events: ev("order.closed"),
			trades: []simTrade{wx(wechatpay.TradeUserPaying, nil)}, want: []string{"WAIT_BUYER_PAY"}},
		{name: "wechat: paid there, closed here", rec: onWechat, o: wxOrder("closed", "0.00"), events: ev("order.closed"),
			trades: []simTrade{wx(wechatpay.TradeSuccess, wxPaid)}, want: []string{"status closed, wechat says paid"}},
		{name: "an Alipay order with a WeChat Pay trade", o: ptr(order("closed", "0.00")), events: ev("order.closed"),
			trades: []simTrade{wx(wechatpay.TradeClosed, nil)}, want: []string{"has a trade at wechat"}},
		{name: "an auto barcode of WeChat Pay's taken on Alipay", o: ptr(order("closed", "0.00")), events: ev("order.closed"),
			rec:  func(r *orderRec) { r.Channel, r.Mode, r.AuthCode = "auto", "barcode", "101234567890123456" },
			want: []string{"taken on alipay, but it asked for auto"}},
	}...)

	// Auto QR orders: one side holds the money, the other none.
	auto := func(r *orderRec) { r.Channel, r.Mode = "auto", "qr" }
	autoOrder := func(status, refunded, decided string, codes ...string) *client.Order {
		o := order(status, refunded)
		o.Channel, o.QRCodes = decided, map[string]string{}
		for _, c := range codes {
			o.QRCodes[c] = c + "-code"
		}
		return &o
	}
	aliVoided := trade("", "0.00", func(t *simTrade) { t.Voided = "close"; t.CodeExpires = &future })[0]
	aliPaid := trade("TRADE_SUCCESS", "0.00", func(t *simTrade) { t.PaidAt = paid })[0]
	aliPayable := trade("", "0.00", func(t *simTrade) { t.CodeExpires = &future })[0]
	aliLate := trade("TRADE_CLOSED", "10.00", func(t *simTrade) {
		t.PaidAt, t.CloseReason = paid, "refund"
		t.Refunds = []simRefund{{OutRequestNo: "late_PG1", Amount: "10.00"}}
	})[0]
	wxLate := wx(wechatpay.TradeRefund, func(v *wechatpaysim.TradeView) {
		wxPaid(v)
		v.Refunds = []wechatpaysim.RefundView{wxRefund("PG1-late_PG1", 1000, wechatpay.RefundSuccess)}
	})
	cases = append(cases, []struct {
		name    string
		o       *client.Order
		trades  []simTrade
		refunds []client.Refund
		events  map[string][]string
		want    []string
		late    int
		rec     func(*orderRec)
	}{
		{name: "auto: paid on WeChat Pay, Alipay's code voided", rec: auto, o: autoOrder("paid", "0.00", "wechat", "alipay", "wechat"),
			trades: []simTrade{aliVoided, wx(wechatpay.TradeSuccess, wxPaid)}, events: ev("order.paid")},
		{name: "auto: paid on both sides, WeChat Pay's refunded as a late payment", rec: auto,
			o:      autoOrder("paid", "0.00", "alipay", "alipay", "wechat"),
			trades: []simTrade{aliPaid, wxLate}, events: ev("order.paid", "order.late_payment"), late: 1},
		{name: "auto: paid on both sides, the late payment not refunded", rec: auto,
			o:      autoOrder("paid", "0.00", "wechat", "alipay", "wechat"),
			trades: []simTrade{aliPaid, wx(wechatpay.TradeSuccess, wxPaid)}, events: ev("order.paid"),
			want: []string{"alipay holds money"}},
		{name: "auto: paid on Alipay, WeChat Pay's code still payable", rec: auto, o: autoOrder("paid", "0.00", "alipay", "alipay", "wechat"),
			trades: []simTrade{aliPaid, wx(wechatpay.TradeNotPay, func(v *wechatpaysim.TradeView) { v.PayBy = future })}, events: ev("order.paid"),
			want: []string{"wechat's code is still payable"}},
		{name: "auto: taken on WeChat Pay alone, Alipay's code never offered", rec: auto, o: autoOrder("paid", "0.00", "wechat", "wechat"),
			trades: []simTrade{aliPayable, wx(wechatpay.TradeSuccess, wxPaid)}, events: ev("order.paid")},
		{name: "auto: undecided and closed on both", rec: auto, o: autoOrder("closed", "0.00", "auto", "alipay", "wechat"),
			trades: []simTrade{aliVoided, wx(wechatpay.TradeClosed, nil)}, events: ev("order.closed")},
		{name: "auto: undecided, closed, paid late on both", rec: auto, o: autoOrder("closed", "0.00", "auto", "alipay", "wechat"),
			trades: []simTrade{aliLate, wxLate}, events: ev("order.closed", "order.late_payment", "order.late_payment"), late: 2},
		{name: "auto: undecided and closed, but paid on WeChat Pay", rec: auto, o: autoOrder("closed", "0.00", "auto", "alipay", "wechat"),
			trades: []simTrade{aliVoided, wx(wechatpay.TradeSuccess, wxPaid)}, events: ev("order.closed"),
			want: []string{"status closed, wechat says paid"}},
		{name: "auto: a late payment without its event", rec: auto, o: autoOrder("paid", "0.00", "alipay", "alipay", "wechat"),
			trades: []simTrade{aliPaid, wxLate}, events: ev("order.paid"), late: 1,
			want: []string{"0 order.late_payment events (want 1)"}},
	}...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &orderRec{No: "O1", Channel: "alipay", Mode: "qr", Amount: 1000, Answered: true, CreateResp: "201 pending"}
			if c.rec != nil {
				c.rec(r)
			}
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
			if c.late != oc.latePayments {
				t.Errorf("late payments counted %d, want %d", oc.latePayments, c.late)
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
