package dst

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
)

// Claim is what the shop was told about an order, which the end state must
// not contradict.
type Claim struct {
	// Told is the last final status an answer gave the shop ("" if none):
	// an order the shop was told is paid must end paid (or refunded), one
	// told closed must end closed.
	Told paygate.OrderStatus
	// RefundsOK are the out_request_nos the shop was told succeeded.
	RefundsOK map[string]bool
}

// Mismatch is one way an order disagrees with the simulator's truth.
type Mismatch struct {
	OutTradeNo string
	Msg        string
}

func (m Mismatch) String() string { return m.OutTradeNo + ": " + m.Msg }

// Check compares every order of the World's merchant with the simulator's
// trade for it (matched by Subject), with the rules of the chaos suite's
// check: the status follows the channel (TRADE_SUCCESS/FINISHED paid,
// closed unpaid closed, closed by a refunding cancel closed or refunded,
// refunded in full refunded; nothing may stay pending or WAIT_BUYER_PAY),
// refunded_amount equals the succeeded refunds and the channel's refund_fee,
// every refund succeeded here iff at the channel, refunded ≤ paid, and
// exactly one event per state change. claims, keyed by out_trade_no, adds
// what the shop was told. The result is sorted.
func (w *World) Check(ctx context.Context, claims map[string]*Claim) ([]Mismatch, error) {
	orders, err := w.Orders(ctx)
	if err != nil {
		return nil, err
	}
	trades := map[string][]alipaysim.TradeView{}
	for _, t := range w.Sim.Trades() {
		if no, ok := strings.CutPrefix(t.Subject, Subject("")); ok {
			trades[no] = append(trades[no], t)
		}
	}
	var out []Mismatch
	seen := map[string]bool{}
	for _, o := range orders {
		seen[o.OutTradeNo] = true
		refunds, err := w.Store.Inner().RefundsByOrder(ctx, o.ID)
		if err != nil {
			return nil, err
		}
		evs, err := w.Store.Inner().EventsByOrder(ctx, o.ID)
		if err != nil {
			return nil, err
		}
		events := map[string]int{}
		for _, e := range evs {
			events[e.Type]++
		}
		for _, msg := range checkOrder(o, refunds, events, trades[o.OutTradeNo], claims[o.OutTradeNo]) {
			out = append(out, Mismatch{OutTradeNo: o.OutTradeNo, Msg: msg})
		}
	}
	for no, ts := range trades {
		if !seen[no] {
			out = append(out, Mismatch{OutTradeNo: no, Msg: fmt.Sprintf("the gateway has no order, but the channel has a trade (%s)", summary(&ts[0]))})
		}
	}
	for no, c := range claims {
		if !seen[no] && c.Told != "" {
			out = append(out, Mismatch{OutTradeNo: no, Msg: fmt.Sprintf("the shop was told %s but the gateway has no order", c.Told)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

// checkOrder is chaos/check_test.go's checkOrder on the gateway's own
// records.
func checkOrder(o *paygate.Order, refunds []*paygate.Refund, events map[string]int, trades []alipaysim.TradeView, claim *Claim) []string {
	var ms []string
	bad := func(format string, args ...any) { ms = append(ms, fmt.Sprintf(format, args...)) }
	var t *alipaysim.TradeView
	if len(trades) > 0 {
		t = &trades[0]
	}
	if len(trades) > 1 {
		bad("%d channel trades carry this order's subject (one order, one channel number)", len(trades))
	}
	total, refunded := o.TotalAmount, o.RefundedAmount

	var sumOK, cancelRefund paygate.Money
	okNos := map[string]paygate.Money{}
	nOK := 0
	for _, r := range refunds {
		switch r.Status {
		case paygate.RefundSucceeded:
			sumOK += r.Amount
			nOK++
			if strings.HasPrefix(r.OutRequestNo, "cancel_") {
				cancelRefund += r.Amount
			} else {
				okNos[r.OutRequestNo] = r.Amount
			}
		case paygate.RefundPending:
			bad("refund %s of %s still pending after recovery", r.OutRequestNo, r.Amount.Yuan())
		case paygate.RefundFailed:
		default:
			bad("refund %s has status %q", r.OutRequestNo, r.Status)
		}
	}
	if sumOK != refunded {
		bad("succeeded refunds sum to %s but refunded_amount is %s", sumOK.Yuan(), refunded.Yuan())
	}
	if refunded > total {
		bad("refunded_amount %s exceeds the total %s", refunded.Yuan(), total.Yuan())
	}
	if claim != nil {
		for no := range claim.RefundsOK {
			if _, ok := okNos[no]; !ok {
				bad("refund %s was answered succeeded but is not a succeeded refund now", no)
			}
		}
	}

	chNos := map[string]paygate.Money{}
	var chByCancel, chLate paygate.Money
	if t != nil {
		var sum paygate.Money
		for _, r := range t.Refunds {
			sum += r.Amount
			switch {
			case r.ByCancel:
				chByCancel += r.Amount
			case strings.HasPrefix(r.OutRequestNo, "late_"):
				chLate += r.Amount
			default:
				chNos[r.OutRequestNo] = r.Amount
			}
		}
		if sum != t.RefundFee {
			bad("the channel's refunds sum to %s but its refund_fee is %s", sum.Yuan(), t.RefundFee.Yuan())
		}
		if t.RefundFee > total {
			bad("the channel refunded %s of a %s payment", t.RefundFee.Yuan(), total.Yuan())
		}
		if t.TotalAmount != total {
			bad("the channel trade's total is %s, the order's %s", t.TotalAmount.Yuan(), total.Yuan())
		}
	}
	sameRefunds := func() {
		for no, a := range chNos {
			if okNos[no] != a {
				bad("the channel refunded %s as %s; the gateway has %s", no, a.Yuan(), refundState(refunds, no))
			}
		}
		for no, a := range okNos {
			if chNos[no] != a {
				bad("the gateway's refund %s (%s) succeeded but the channel has %s", no, a.Yuan(), chNos[no].Yuan())
			}
		}
	}

	st := o.Status
	var want paygate.OrderStatus
	late := false
	switch {
	case st == paygate.StatusPending:
		bad("stuck pending after recovery; channel %s", summary(t))
	case t == nil:
		want = paygate.StatusClosed
	case t.TradeStatus == "":
		want = paygate.StatusClosed
	case t.TradeStatus == alipay.TradeWaitBuyerPay:
		bad("the channel trade is still WAIT_BUYER_PAY while the order is %s: nobody will decide it", st)
	case t.TradeStatus == alipay.TradeSuccess || t.TradeStatus == alipay.TradeFinished:
		want = paygate.StatusPaid
		if refunded != t.RefundFee {
			bad("refunded_amount %s but the channel's refund_fee is %s", refunded.Yuan(), t.RefundFee.Yuan())
		}
	case t.TradeStatus == alipay.TradeClosed && t.PaidAt == nil:
		want = paygate.StatusClosed
	case t.TradeStatus == alipay.TradeClosed && (t.CancelAction == "refund" || chByCancel > 0):
		if st == paygate.StatusRefunded {
			want = paygate.StatusRefunded
			if refunded != total || cancelRefund != chByCancel {
				bad("cancelled with a refund of %s at the channel; the gateway refunded %s (by cancel %s)", chByCancel.Yuan(), refunded.Yuan(), cancelRefund.Yuan())
			}
		} else {
			want = paygate.StatusClosed
			if refunded != 0 {
				bad("closed by a refunding cancel, yet refunded_amount is %s", refunded.Yuan())
			}
		}
	case t.TradeStatus == alipay.TradeClosed && chLate > 0 && chLate == total && len(chNos) == 0 && st == paygate.StatusClosed:
		want, late = paygate.StatusClosed, true
	case t.TradeStatus == alipay.TradeClosed && t.CloseReason == "refund":
		want = paygate.StatusRefunded
		if refunded != total || t.RefundFee != total {
			bad("the channel closed the trade refunded in full (%s) but refunded_amount is %s", t.RefundFee.Yuan(), refunded.Yuan())
		}
	default:
		bad("unexpected channel state: %s", summary(t))
	}
	sameRefunds() // every refund succeeded here iff at the channel, whatever the status
	if want != "" && st != want {
		bad("status %s, the channel says %s (%s)", st, want, summary(t))
	}
	if t == nil && st != paygate.StatusClosed && st != paygate.StatusPending {
		bad("status %s but the channel has no trade for it", st)
	}
	if claim != nil {
		switch {
		case claim.Told == paygate.StatusPaid && st != paygate.StatusPaid && st != paygate.StatusRefunded:
			bad("the shop was told paid, the order ended %s", st)
		case claim.Told == paygate.StatusClosed && st != paygate.StatusClosed:
			bad("the shop was told closed, the order ended %s", st)
		}
	}

	wantEvents := map[string]int{paygate.EventRefundSucceeded: nOK}
	switch st {
	case paygate.StatusPaid, paygate.StatusRefunded:
		wantEvents[paygate.EventOrderPaid] = 1
	case paygate.StatusClosed:
		wantEvents[paygate.EventOrderClosed] = 1
	}
	if late {
		wantEvents[paygate.EventOrderLatePayment] = 1
	}
	types := map[string]bool{}
	for typ := range events {
		types[typ] = true
	}
	for typ := range wantEvents {
		types[typ] = true
	}
	sorted := make([]string, 0, len(types))
	for typ := range types {
		sorted = append(sorted, typ)
	}
	sort.Strings(sorted)
	for _, typ := range sorted {
		if events[typ] != wantEvents[typ] {
			bad("%d %s events (want %d)", events[typ], typ, wantEvents[typ])
		}
	}
	return ms
}

func refundState(refunds []*paygate.Refund, no string) string {
	for _, r := range refunds {
		if r.OutRequestNo == no {
			return string(r.Status) + " " + r.Amount.Yuan()
		}
	}
	return "nothing"
}

// summary describes a trade without its random numbers.
func summary(t *alipaysim.TradeView) string {
	if t == nil {
		return "no trade"
	}
	status := t.TradeStatus
	if status == "" {
		status = "unscanned code"
	}
	s := fmt.Sprintf("%s total=%s refund_fee=%s", status, t.TotalAmount.Yuan(), t.RefundFee.Yuan())
	if t.Voided != "" {
		s += " voided=" + t.Voided
	}
	if t.CloseReason != "" {
		s += " close_reason=" + t.CloseReason
	}
	if t.CancelAction != "" {
		s += " cancel_action=" + t.CancelAction
	}
	if t.PaidAt != nil {
		s += " paid"
	}
	for _, r := range t.Refunds {
		s += " refund:" + r.Amount.Yuan()
		if r.ByCancel {
			s += "(cancel)"
		}
	}
	return s
}
