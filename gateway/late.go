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
			ChannelNo: o.ChannelNo, Amount: amount, Total: amount, OutRequestNo: "late_" + o.ChannelNo,
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
		return err
	}
	err = s.cfg.Store.Tx(ctx, func(tx paygate.StoreTx) error {
		if err := tx.CreateEvent(ctx, &paygate.Event{ID: id, MerchantID: o.MerchantID, OrderID: o.ID,
			Type: paygate.EventOrderLatePayment, Payload: payload, CreatedAt: now}); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, paygate.Job{Kind: paygate.JobDeliverEvent, EventID: id})
	})
	if paygate.ErrorCode(err) == paygate.EConflict {
		return nil // recorded by an earlier notification
	}
	if err == nil {
		noteChange(ctx)
	}
	return err
}
