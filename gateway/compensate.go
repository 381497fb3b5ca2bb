package gateway

import (
	"context"
	"time"

	"github.com/paygate/paygate"
)

// firstCompensation is when the background first looks at a new order: for
// a barcode order once its loop must have decided, for a QR order after
// CompensateAfter.
func (s *Service) firstCompensation(o *paygate.Order) time.Time {
	if o.Mode == paygate.ModeBarcode {
		return o.CreatedAt.Add(s.barcodeWindow())
	}
	return o.CreatedAt.Add(s.cfg.CompensateAfter)
}

// CompensateOrder looks after a pending order whose news may have been lost:
// it asks the channel and applies a final answer exactly as a notification
// would; a barcode order past its decision window is cancelled (its loop
// died with its node); an expired QR order is closed at the channel, then
// here. It returns how long to wait before looking again, 0 when nothing is
// left to do. An unclear channel answer is never taken as an answer: it
// only means looking again later.
func (s *Service) CompensateOrder(ctx context.Context, orderID int64) (time.Duration, error) {
	o, err := s.load(ctx, orderID)
	if err == nil && decidedAuto(o) && (o.Status == paygate.StatusPaid || o.Status == paygate.StatusRefunded) {
		// Paid on one side: the other side's trade must be closed (the
		// payment's handler tried already; this is the backstop).
		if err := s.closeOthers(ctx, o); err != nil {
			s.log.WarnContext(ctx, "compensation: the other channel's trade of a paid auto order not closed yet; will try again",
				"out_trade_no", o.OutTradeNo, "err", err)
			return s.cfg.CompensateInterval, nil
		}
		return 0, nil
	}
	if err != nil || o.Status != paygate.StatusPending {
		return 0, err
	}
	now := s.now()
	if o.Mode == paygate.ModeBarcode {
		if wait := o.CreatedAt.Add(s.barcodeWindow()).Sub(now); wait > 0 {
			return wait, nil
		}
	}
	if !o.CancelRequestedAt.IsZero() {
		// A cancel was requested but not seen through (its answer lost, or
		// not recorded): repeating it is safe, and its answer, not a query,
		// decides the order. Nothing else may: the cancel refunds a payment.
		if _, err := s.cancelTrade(ctx, o); err != nil {
			s.log.WarnContext(ctx, "compensation: cancel not confirmed yet; will try again", "out_trade_no", o.OutTradeNo, "err", err)
			return s.nextLook(o, now), nil
		}
		return s.doneUnlessPending(ctx, o, now)
	}
	settled, err := s.settleByQuery(ctx, o)
	if err != nil {
		s.log.WarnContext(ctx, "compensation: query failed; will look again", "out_trade_no", o.OutTradeNo, "err", err)
		return s.nextLook(o, now), nil
	}
	if settled.Status != paygate.StatusPending {
		s.log.InfoContext(ctx, "compensation settled an order", "out_trade_no", o.OutTradeNo, "status", settled.Status)
		return settledLook(settled), nil
	}
	switch {
	case o.Mode == paygate.ModeBarcode:
		// A barcode payment whose loop died is cancelled.
		if _, err := s.cancelTrade(ctx, settled); err != nil {
			return s.nextLook(o, now), nil
		}
		return s.doneUnlessPending(ctx, o, now)
	case !now.Before(o.ExpiresAt):
		if _, err := s.closeAtChannel(ctx, o); err != nil {
			s.log.WarnContext(ctx, "compensation: expired order not closed yet; will try again", "out_trade_no", o.OutTradeNo, "err", err)
			return s.nextLook(o, now), nil
		}
		s.log.InfoContext(ctx, "expired order closed", "out_trade_no", o.OutTradeNo)
		return s.doneUnlessPending(ctx, o, now)
	}
	return s.nextLook(o, now), nil
}

// doneUnlessPending ends compensation only once the order, as stored now, is
// no longer pending: whatever a step answered (a racing cancel, a payment
// its intent keeps from being applied), a pending order is looked at again,
// or nothing would ever settle it.
func (s *Service) doneUnlessPending(ctx context.Context, o *paygate.Order, now time.Time) (time.Duration, error) {
	cur, err := s.load(ctx, o.ID)
	if err == nil && cur.Status != paygate.StatusPending {
		return settledLook(cur), nil
	}
	s.log.WarnContext(ctx, "compensation: the order is still pending; will look again", "out_trade_no", o.OutTradeNo, "err", err)
	return s.nextLook(o, now), nil
}

// nextLook backs off: half the order's age, between CompensateInterval and
// ten times that, but never past the expiry, which must be acted on.
func (s *Service) nextLook(o *paygate.Order, now time.Time) time.Duration {
	d := min(max(now.Sub(o.CreatedAt)/2, s.cfg.CompensateInterval), 10*s.cfg.CompensateInterval)
	if untilExpiry := o.ExpiresAt.Sub(now); untilExpiry > 0 && untilExpiry < d {
		d = untilExpiry + time.Second
	}
	return d
}

// ResolveRefund settles a pending refund in the background: the refund is
// sent again with the same out_request_no (Alipay refunds it at most once),
// which answers with its state. It returns how long to wait before trying
// again, 0 when the refund is settled.
func (s *Service) ResolveRefund(ctx context.Context, orderID int64, outRequestNo string) (time.Duration, error) {
	var o *paygate.Order
	var r *paygate.Refund
	err := s.cfg.Store.Tx(ctx, func(tx paygate.StoreTx) error {
		var err error
		if o, err = tx.OrderForUpdate(ctx, orderID); err != nil {
			return err
		}
		r, err = tx.RefundByRequestNo(ctx, orderID, outRequestNo)
		return err
	})
	if err != nil || r.Status != paygate.RefundPending {
		return 0, err
	}
	r, err = s.sendRefund(ctx, o, r)
	switch {
	case paygate.ErrorCode(err) == paygate.EPaymentFailed:
		return 0, nil // refused, and recorded failed
	case err != nil:
		return 0, err // not recorded: the job is retried
	case r.Status != paygate.RefundPending:
		return 0, nil
	}
	return s.cfg.CompensateInterval, nil
}

// load reads an order by id.
func (s *Service) load(ctx context.Context, orderID int64) (*paygate.Order, error) {
	var o *paygate.Order
	err := s.cfg.Store.Tx(ctx, func(tx paygate.StoreTx) error {
		var err error
		o, err = tx.OrderForUpdate(ctx, orderID)
		return err
	})
	return o, err
}

// settledLook is when to look again at an order compensation just saw
// leave pending: never, unless a payment decided an auto order, whose other
// side must then be closed (or its late payment refunded) by the next run
// (see CompensateOrder); the close tried where the payment was applied may
// have failed, and this job is the only one left to repeat it.
func settledLook(o *paygate.Order) time.Duration {
	if decidedAuto(o) && o.Status != paygate.StatusClosed {
		return time.Second
	}
	return 0
}
