package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/paygate/paygate"
)

// errNoChange tells update that fn decided to write nothing.
var errNoChange = errors.New("no change")

// update runs fn on the locked order inside one transaction and writes the
// order back unless fn returns errNoChange. Everything fn writes through tx
// (refunds, events) commits with the order or not at all.
func (s *Service) update(ctx context.Context, orderID int64, fn func(tx paygate.StoreTx, o *paygate.Order) error) (*paygate.Order, error) {
	var out *paygate.Order
	var before paygate.OrderStatus
	written := false
	err := s.tx(ctx, func(tx paygate.StoreTx) error {
		written = false
		o, err := tx.OrderForUpdate(ctx, orderID)
		if err != nil {
			return err
		}
		out, before = o, o.Status
		switch err := fn(tx, o); {
		case errors.Is(err, errNoChange):
			return nil
		case err != nil:
			return err
		}
		written = true
		return tx.UpdateOrder(ctx, o)
	})
	if err == nil && written {
		s.orderWritten(ctx, before, out)
	}
	return out, err
}

// paidInfo is what the channel said about a payment.
type paidInfo struct {
	TradeNo string
	BuyerID string
	Amount  paygate.Money // 0 when the answer did not carry it
	PaidAt  time.Time     // zero: now
	// Channel is the channel that reported the payment, when it may decide
	// an auto order; "" for an order already taken on one channel.
	Channel paygate.Channel
	// CancelRefused says the channel definitively refused to cancel the
	// trade (its cancel window passed, say): the payment stands even though
	// a cancel was requested.
	CancelRefused bool
}

// markPaid applies a confirmed payment: a pending order becomes paid with its
// order.paid event. A paid order is left as it is (a repeat). A payment for
// a closed order is reported, never applied silently. A pending order whose
// cancel was requested is left pending: the cancel (repeated by compensation
// until the channel confirms it) refunds that payment, so reporting it paid
// would tell the merchant of money that goes back; only a cancel the channel
// refused for good lets the payment stand.
func (s *Service) markPaid(ctx context.Context, orderID int64, p paidInfo) (*paygate.Order, error) {
	return s.update(ctx, orderID, func(tx paygate.StoreTx, o *paygate.Order) error {
		if p.Amount != 0 && p.Amount != o.TotalAmount {
			return fmt.Errorf("channel reports %s paid for order %s of %s: not applied", p.Amount, o.OutTradeNo, o.TotalAmount)
		}
		if o.Status == paygate.StatusPending && !o.CancelRequestedAt.IsZero() && !p.CancelRefused {
			s.log.InfoContext(ctx, "payment seen for an order being cancelled: the cancel decides it", "out_trade_no", o.OutTradeNo, "trade_no", p.TradeNo)
			return errNoChange
		}
		if p.Channel != "" && o.Channel != paygate.ChannelAuto && o.Channel.OrDefault() != p.Channel {
			return fmt.Errorf("order %s is taken on %s; a payment on %s is not applied to it", o.OutTradeNo, o.Channel, p.Channel)
		}
		switch o.Status {
		case paygate.StatusPaid, paygate.StatusRefunded:
			return errNoChange
		case paygate.StatusClosed:
			s.log.ErrorContext(ctx, "payment arrived for a closed order", "out_trade_no", o.OutTradeNo,
				"merchant_id", o.MerchantID, "trade_no", p.TradeNo, "amount", o.TotalAmount.Yuan())
			return paygate.Errorf(paygate.EConflict, "order %s is closed but the channel reports it paid", o.OutTradeNo)
		}
		now := s.now()
		if err := o.Transition(paygate.StatusPaid, now); err != nil {
			return err
		}
		if !p.PaidAt.IsZero() {
			o.PaidAt = p.PaidAt.UTC()
		}
		o.TradeNo, o.BuyerID = firstNonEmpty(p.TradeNo, o.TradeNo), firstNonEmpty(p.BuyerID, o.BuyerID)
		if o.Channel == paygate.ChannelAuto && p.Channel != "" {
			o.Channel = p.Channel // the first payment decides an auto order
		}
		return s.event(ctx, tx, o, nil, paygate.EventOrderPaid, now)
	})
}

// requestCancel records, durably, that the gateway is about to cancel the
// order's trade at the channel, before the cancel is sent: a cancel refunds
// a buyer who paid meanwhile, and if its answer cannot be recorded, this
// mark is what keeps every later notification, query and compensation from
// reporting that payment as paid (see markPaid). It returns the order as
// stored; an order no longer pending must not be cancelled.
func (s *Service) requestCancel(ctx context.Context, orderID int64) (*paygate.Order, error) {
	return s.update(ctx, orderID, func(_ paygate.StoreTx, o *paygate.Order) error {
		if o.Status != paygate.StatusPending || !o.CancelRequestedAt.IsZero() {
			return errNoChange
		}
		now := s.now()
		o.CancelRequestedAt, o.UpdatedAt = now, now
		return nil
	})
}

// markClosed closes a pending order after the channel confirmed it can no
// longer be paid; a closed order is left as it is.
func (s *Service) markClosed(ctx context.Context, orderID int64, tradeNo string) (*paygate.Order, error) {
	return s.update(ctx, orderID, func(tx paygate.StoreTx, o *paygate.Order) error {
		if o.Status != paygate.StatusPending {
			return errNoChange
		}
		now := s.now()
		if err := o.Transition(paygate.StatusClosed, now); err != nil {
			return err
		}
		o.TradeNo = firstNonEmpty(tradeNo, o.TradeNo)
		return s.event(ctx, tx, o, nil, paygate.EventOrderClosed, now)
	})
}

// event records a webhook event in tx. The payload is fixed now: what the
// merchant receives is the state right after the change.
func (s *Service) event(ctx context.Context, tx paygate.StoreTx, o *paygate.Order, r *paygate.Refund, typ string, now time.Time) error {
	id, err := newEventID()
	if err != nil {
		return err
	}
	data := map[string]any{"order": s.view(o)}
	if r != nil {
		data["refund"] = r.View()
	}
	payload, err := json.Marshal(map[string]any{
		"id": id, "type": typ, "created_at": now.UTC().Format(time.RFC3339), "data": data,
	})
	if err != nil {
		return err
	}
	if err := tx.CreateEvent(ctx, &paygate.Event{
		ID: id, MerchantID: o.MerchantID, OrderID: o.ID, Type: typ, Payload: payload, CreatedAt: now,
	}); err != nil {
		return err
	}
	return s.enqueue(ctx, tx, paygate.Job{Kind: paygate.JobDeliverEvent, EventID: id})
}

func newEventID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "evt_" + hex.EncodeToString(b), nil
}

// newChannelNo makes the out_trade_no sent to Alipay: unique across all
// merchants of this app (merchants' own numbers may collide), within
// Alipay's alphabet and 64 characters, and readable: PG + date + 16 hex.
func newChannelNo(now time.Time) (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "PG" + now.UTC().Format("20060102") + fmt.Sprintf("%X", b), nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
