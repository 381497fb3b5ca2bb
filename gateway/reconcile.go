package gateway

import (
	"context"
	"fmt"

	"github.com/paygate/paygate"
)

// Repair is what a reconciliation repair did: the order's state before and
// after ("pending", "paid", "paid, refunded 1.00 of 10.00", …), whether the
// channel's answer changed anything, and that answer in words.
type Repair struct {
	Applied bool
	Before  string
	After   string
	Answer  string // what the channel said, for the report
}

// RepairPayment settles, by the channel's word, an order that the bill says
// was paid but that is pending here: the channel is queried and a final
// answer is applied through the state machine exactly as a notification's
// (paid, with its event and webhook; or closed). It never changes an order
// that is not pending, a barcode payment its loop is still deciding, or an
// order being cancelled (the cancel decides it).
func (s *Service) RepairPayment(ctx context.Context, orderID int64) (Repair, error) {
	o, err := s.load(ctx, orderID)
	if err != nil {
		return Repair{}, err
	}
	rep := Repair{Before: orderState(o), After: orderState(o)}
	switch {
	case o.Status != paygate.StatusPending:
		rep.Answer = "not pending here: nothing to settle"
		return rep, nil
	case s.barcodeDeciding(o):
		rep.Answer = "a barcode payment still being decided: left to its loop"
		return rep, nil
	case !o.CancelRequestedAt.IsZero():
		rep.Answer = "a cancel was requested: compensation repeats it until the channel confirms"
		return rep, nil
	}
	if o.Channel == paygate.ChannelAuto {
		after, err := s.settleAuto(ctx, o)
		if err != nil {
			return rep, fmt.Errorf("query order %s at both channels: %w", o.OutTradeNo, err)
		}
		rep.Answer = "both channels' queries: " + string(after.Status)
		rep.After = orderState(after)
		rep.Applied = rep.After != rep.Before
		return rep, nil
	}
	cctx, cancel := s.callCtx(ctx)
	ch := s.ch(o)
	resp, err := ch.Query(cctx, o.ChannelNo)
	cancel()
	who := channelTitle(ch.inner.Name()) + "'s query: "
	var after *paygate.Order
	switch {
	case err == nil && resp.Paid():
		rep.Answer = who + resp.Status
		after, err = s.markPaid(ctx, o.ID, paidFrom(resp))
	case err == nil && resp.State == TradeClosed:
		rep.Answer = who + resp.Status
		after, err = s.markClosed(ctx, o.ID, resp.TradeNo)
	case err == nil:
		rep.Answer = who + resp.Status + " (not final)"
		return rep, nil
	case HasReason(err, ReasonTradeNotExist):
		rep.Answer = who + "the trade does not exist"
		return rep, nil
	default:
		return rep, fmt.Errorf("query order %s at the channel: %w", o.OutTradeNo, err)
	}
	if err != nil {
		return rep, err
	}
	rep.After = orderState(after)
	rep.Applied = rep.After != rep.Before
	return rep, nil
}

// RepairRefund records, by the channel's word, a refund the bill has and the
// books lack or hold pending: a pending refund of the gateway's own is
// settled as its background resolution would (sent again under the same
// out_request_no, which the channel refunds at most once); a refund made at the
// channel (its console) is asked of the refund query and recorded as a
// refund notification would record it, with its event and webhook. A refund
// that the order cannot take (past what it has left, on a closed order) is
// never applied.
func (s *Service) RepairRefund(ctx context.Context, orderID int64, outRequestNo string) (Repair, error) {
	o, err := s.load(ctx, orderID)
	if err != nil {
		return Repair{}, err
	}
	rep := Repair{Before: orderState(o), After: orderState(o)}
	var existing *paygate.Refund
	refunds, err := s.cfg.Store.RefundsByOrder(ctx, o.ID)
	if err != nil {
		return rep, err
	}
	for _, r := range refunds {
		if r.OutRequestNo == outRequestNo {
			existing = r
		}
	}
	switch {
	case existing != nil && existing.Status == paygate.RefundSucceeded:
		rep.Answer = "already recorded succeeded"
		return rep, nil
	case existing != nil && existing.Status == paygate.RefundFailed:
		rep.Answer = "recorded failed here: an operator must look"
		return rep, nil
	case existing != nil:
		if _, err := s.ResolveRefund(ctx, o.ID, outRequestNo); err != nil {
			return rep, err
		}
		rep.Answer = "pending refund settled by asking " + channelTitle(string(o.Channel.OrDefault())) + " again"
	case o.Status != paygate.StatusPaid:
		rep.Answer = "the order is " + string(o.Status) + " here: nothing to record the refund on"
		return rep, nil
	default:
		if err := s.channelRefund(ctx, o, outRequestNo); err != nil {
			return rep, err
		}
		rep.Answer = channelTitle(string(o.Channel.OrDefault())) + "'s refund query confirms the refund"
	}
	after, err := s.load(ctx, o.ID)
	if err != nil {
		return rep, err
	}
	rep.After = orderState(after)
	rep.Applied = rep.After != rep.Before
	return rep, nil
}

// orderState names an order's state for a repair's record.
func orderState(o *paygate.Order) string {
	if o.RefundedAmount > 0 {
		return fmt.Sprintf("%s, refunded %s of %s", o.Status, o.RefundedAmount.Yuan(), o.TotalAmount.Yuan())
	}
	return string(o.Status)
}
