package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/paygate/paygate"
)

// LatePaymentPolicy says what to do with money that reaches the channel for
// an order already closed here. It should not happen (an order is closed
// only after the channel confirms it can no longer be paid), so when it does
// it is never silent: a log line at ERROR, a metric, and a webhook.
type LatePaymentPolicy string

// The policies.
const (
	// LateRefund refunds the payment in full at once (the default): the
	// merchant sold nothing, so the buyer gets the money back.
	LateRefund LatePaymentPolicy = "refund"
	// LateReport keeps the money and only reports it, for an operator to
	// decide.
	LateReport LatePaymentPolicy = "report"
)

// Observer receives the counts an operator alerts on; cmd backs it with
// Prometheus. A nil Observer counts nothing.
type Observer interface {
	LatePayment(action string)
}

// latePayment applies the policy to a payment channel name confirmed for a
// closed order, or for an auto order another channel's payment decided. It
// returns nil once the policy is carried out and the event recorded; an
// error leaves the notification unacknowledged, so the channel sends it
// again and the policy is tried again (the refund is idempotent by its
// out_request_no).
func (s *Service) latePayment(ctx context.Context, o *paygate.Order, name paygate.Channel, tradeNo string, amount paygate.Money) error {
	action := "kept"
	s.log.ErrorContext(ctx, "payment arrived for a closed order", "out_trade_no", o.OutTradeNo, "merchant_id", o.MerchantID,
		"channel", name, "trade_no", tradeNo, "amount", amount.Yuan(), "policy", string(s.cfg.LatePayment))
	if s.cfg.LatePayment != LateReport {
		cctx, cancel := s.callCtx(ctx)
		_, err := s.chNamed(o, name).Refund(cctx, RefundRequest{
			ChannelNo: o.ChannelNo, Amount: amount, Total: amount, OutRequestNo: lateRefundNo(o),
			Reason: "paid after the order was closed",
		})
		cancel()
		if err != nil {
			return fmt.Errorf("refund the late payment of order %s: %w", o.OutTradeNo, err)
		}
		action = "refunded"
	}
	if s.cfg.Observer != nil {
		s.cfg.Observer.LatePayment(action)
	}
	_, err := s.recordLate(ctx, o, name, tradeNo, amount, action)
	return err
}

// lateRefundNo is the out_request_no of the late-payment policy's refund of
// o's payment, at whichever channel took it.
func lateRefundNo(o *paygate.Order) string { return "late_" + o.ChannelNo }

// refundedLate reports whether channel name holds the late-payment
// policy's refund of a payment for o. It is asked when the channel shows
// the trade closed, which a trade paid and then refunded in full also is:
// when that refund was this gateway's late-payment refund whose answer was
// lost, the late payment has not been reported yet. A definite answer
// without the refund is false; an unclear one an error.
func (s *Service) refundedLate(ctx context.Context, o *paygate.Order, name paygate.Channel) (bool, error) {
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	r, err := s.chNamed(o, name).RefundQuery(cctx, RefundRef{ChannelNo: o.ChannelNo, OutRequestNo: lateRefundNo(o)})
	switch {
	case err == nil:
		return r.Done, nil
	case OutcomeOf(err) == OutcomeFailed: // no such refund
		return false, nil
	}
	return false, fmt.Errorf("ask for the late-payment refund of order %s: %w", o.OutTradeNo, err)
}

// lateRefundFound reports a late payment whose refund by policy refundedLate
// found made after its answer was lost: it is counted and its event
// recorded, once.
func (s *Service) lateRefundFound(ctx context.Context, o *paygate.Order, name paygate.Channel, tradeNo string, amount paygate.Money) error {
	created, err := s.recordLate(ctx, o, name, tradeNo, amount, "refunded")
	if created {
		s.log.InfoContext(ctx, "late payment: its refund, whose answer was lost, was made; reported now", "out_trade_no", o.OutTradeNo,
			"channel", name, "trade_no", tradeNo)
		if s.cfg.Observer != nil {
			s.cfg.Observer.LatePayment("refunded")
		}
	}
	return err
}

// recordLate records a late payment's order.late_payment event (action
// "refunded" or "kept"), once per order and channel; created says this call
// recorded it.
func (s *Service) recordLate(ctx context.Context, o *paygate.Order, name paygate.Channel, tradeNo string, amount paygate.Money, action string) (created bool, err error) {
	now := s.now()
	// One such event per order and channel, however often the channel
	// notifies; an order's own channel keeps the id it always had.
	id := "evt_late_" + o.ChannelNo
	if name != o.Channel.OrDefault() {
		id = "evt_late_" + string(name) + "_" + o.ChannelNo
	}
	payload, err := json.Marshal(map[string]any{
		"id": id, "type": paygate.EventOrderLatePayment, "created_at": now.UTC().Format(time.RFC3339),
		"data": map[string]any{
			"order":        s.view(o),
			"late_payment": map[string]any{"channel": name, "trade_no": tradeNo, "amount": amount, "action": action},
		},
	})
	if err != nil {
		return false, err
	}
	err = s.cfg.Store.Tx(ctx, func(tx paygate.StoreTx) error {
		if err := tx.CreateEvent(ctx, &paygate.Event{ID: id, MerchantID: o.MerchantID, OrderID: o.ID,
			Type: paygate.EventOrderLatePayment, Payload: payload, CreatedAt: now}); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, paygate.Job{Kind: paygate.JobDeliverEvent, EventID: id})
	})
	if paygate.ErrorCode(err) == paygate.EConflict {
		return false, nil // recorded by an earlier notification
	}
	if err == nil {
		noteChange(ctx)
	}
	return err == nil, err
}
