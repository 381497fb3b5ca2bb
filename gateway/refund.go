package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/paygate/paygate"
)

// Refund refunds part or all of a paid order. The refund is recorded pending
// (reserving its amount, checked against the balance inside the order's
// transaction so concurrent refunds can never exceed the payment) before the
// channel is called with the same out_request_no, which makes every repeat
// safe. A repeat of a refund still pending sends it again.
func (s *Service) Refund(ctx context.Context, m *paygate.Merchant, outTradeNo string, req paygate.CreateRefund) (*paygate.Refund, bool, error) {
	o, err := s.cfg.Store.OrderByOutTradeNo(ctx, m.ID, outTradeNo)
	if err != nil {
		return nil, false, err
	}
	var r *paygate.Refund
	created := false
	_, err = s.update(ctx, o.ID, func(tx paygate.StoreTx, o *paygate.Order) error {
		existing, err := tx.RefundByRequestNo(ctx, o.ID, req.OutRequestNo)
		switch {
		case err == nil && existing.Amount != req.Amount:
			return paygate.Errorf(paygate.EConflict, "out_request_no %s already refunds %s, not %s",
				req.OutRequestNo, existing.Amount, req.Amount)
		case err == nil:
			r = existing
			return errNoChange
		case paygate.ErrorCode(err) != paygate.ENotFound:
			return err
		}
		if err := refundable(ctx, tx, o, req.Amount); err != nil {
			return err
		}
		now := s.now()
		r = &paygate.Refund{
			OrderID: o.ID, MerchantID: o.MerchantID, OutTradeNo: o.OutTradeNo, OutRequestNo: req.OutRequestNo,
			Amount: req.Amount, Reason: req.Reason, Status: paygate.RefundPending, CreatedAt: now, UpdatedAt: now,
		}
		created = true
		if err := tx.CreateRefund(ctx, r); err != nil {
			return err
		}
		// Settled in the background if this call cannot settle it.
		if err := s.enqueue(ctx, tx, paygate.Job{Kind: paygate.JobResolveRefund, OrderID: o.ID,
			OutRequestNo: r.OutRequestNo, RunAt: now.Add(s.cfg.CompensateAfter)}); err != nil {
			return err
		}
		return errNoChange
	})
	if err != nil {
		return nil, false, err
	}
	if created {
		s.flow().RefundMoved(string(paygate.RefundPending))
	}
	if r.Status != paygate.RefundPending {
		return r, created, nil
	}
	r, err = s.sendRefund(ctx, o, r)
	return r, created, err
}

// refundable checks, under the order's lock, that amount fits in what is
// neither refunded nor reserved by a pending refund.
func refundable(ctx context.Context, tx paygate.StoreTx, o *paygate.Order, amount paygate.Money) error {
	switch o.Status {
	case paygate.StatusPaid:
	case paygate.StatusRefunded:
		return paygate.Errorf(paygate.ERefundExceeds, "order %s is already fully refunded", o.OutTradeNo)
	default:
		return paygate.Errorf(paygate.EConflict, "order %s is %s; only a paid order can be refunded", o.OutTradeNo, o.Status)
	}
	refunds, err := tx.RefundsByOrder(ctx, o.ID)
	if err != nil {
		return err
	}
	var reserved paygate.Money
	for _, r := range refunds {
		if r.Status != paygate.RefundFailed {
			reserved += r.Amount
		}
	}
	if reserved+amount > o.TotalAmount {
		return paygate.Errorf(paygate.ERefundExceeds, "refund of %s exceeds what is refundable on order %s (%s)",
			amount, o.OutTradeNo, o.TotalAmount-reserved)
	}
	return nil
}

// sendRefund calls the channel and applies a clear answer. fund_change=N, or
// no clear answer, is checked with the refund query; a refund still unclear
// stays pending (its amount reserved) and is returned without error.
func (s *Service) sendRefund(ctx context.Context, o *paygate.Order, r *paygate.Refund) (*paygate.Refund, error) {
	ctx = context.WithoutCancel(ctx) // once sent, see the answer through
	cctx, cancel := s.callCtx(ctx)
	resp, err := s.ch(o).Refund(cctx, RefundRequest{
		ChannelNo: o.ChannelNo, Amount: r.Amount, Total: o.TotalAmount, OutRequestNo: r.OutRequestNo, Reason: r.Reason,
	})
	cancel()
	switch OutcomeOf(err) {
	case OutcomeSuccess:
		if resp.Done {
			return s.refundSucceeded(ctx, o.ID, r.OutRequestNo)
		}
		return s.resolveRefund(ctx, o, r)
	case OutcomeFailed, OutcomeConfig:
		s.log.WarnContext(ctx, "refund refused", "out_trade_no", o.OutTradeNo, "out_request_no", r.OutRequestNo, "err", err)
		if _, ferr := s.refundFailed(ctx, o.ID, r.OutRequestNo, err); ferr != nil {
			return nil, ferr
		}
		return nil, channelError("refund", err)
	default:
		s.log.WarnContext(ctx, "refund unknown; querying", "out_trade_no", o.OutTradeNo, "out_request_no", r.OutRequestNo, "err", err)
		return s.resolveRefund(ctx, o, r)
	}
}

// resolveRefund asks the refund query; only REFUND_SUCCESS settles it.
func (s *Service) resolveRefund(ctx context.Context, o *paygate.Order, r *paygate.Refund) (*paygate.Refund, error) {
	cctx, cancel := s.callCtx(ctx)
	resp, err := s.ch(o).RefundQuery(cctx, RefundRef{ChannelNo: o.ChannelNo, OutRequestNo: r.OutRequestNo})
	cancel()
	if err == nil && resp.Done {
		if resp.Amount != 0 && resp.Amount != r.Amount {
			return nil, fmt.Errorf("channel reports refund %s of %s, recorded %s: not applied", r.OutRequestNo, resp.Amount, r.Amount)
		}
		return s.refundSucceeded(ctx, o.ID, r.OutRequestNo)
	}
	if err != nil {
		s.log.WarnContext(ctx, "refund unsettled: its query failed", "out_trade_no", o.OutTradeNo, "out_request_no", r.OutRequestNo, "err", err)
	} else {
		// Still being processed (WeChat Pay's PROCESSING, say): its
		// notification or the next query settles it.
		s.log.InfoContext(ctx, "refund still being processed", "out_trade_no", o.OutTradeNo, "out_request_no", r.OutRequestNo, "status", resp.Status)
	}
	return r, nil
}

// refundSucceeded applies a confirmed refund: the refund succeeds, the order's
// refunded amount grows, a full refund moves it to refunded, and the
// refund.succeeded event is recorded, all in one transaction. A refund
// already succeeded is left as it is.
func (s *Service) refundSucceeded(ctx context.Context, orderID int64, outRequestNo string) (*paygate.Refund, error) {
	var r *paygate.Refund
	moved := false
	_, err := s.update(ctx, orderID, func(tx paygate.StoreTx, o *paygate.Order) error {
		var err error
		if r, err = tx.RefundByRequestNo(ctx, orderID, outRequestNo); err != nil {
			return err
		}
		if r.Status == paygate.RefundSucceeded {
			return errNoChange
		}
		if o.RefundedAmount+r.Amount > o.TotalAmount {
			return fmt.Errorf("refund %s of %s would take order %s past its total: not applied", outRequestNo, r.Amount, o.OutTradeNo)
		}
		now := s.now()
		r.Status, r.UpdatedAt, r.SucceededAt, r.FailReason = paygate.RefundSucceeded, now, now, ""
		if err := tx.UpdateRefund(ctx, r); err != nil {
			return err
		}
		moved = true
		return s.refunded(ctx, tx, o, r, now)
	})
	if err == nil && moved {
		s.flow().RefundMoved(string(paygate.RefundSucceeded))
	}
	return r, err
}

// refunded applies r, succeeded and written, to o in tx: the refunded
// amount grows, a full refund moves the order to refunded, and the
// refund.succeeded event is recorded. The caller writes o (see update).
func (s *Service) refunded(ctx context.Context, tx paygate.StoreTx, o *paygate.Order, r *paygate.Refund, now time.Time) error {
	o.RefundedAmount += r.Amount
	o.UpdatedAt = now
	if o.RefundedAmount == o.TotalAmount {
		if err := o.Transition(paygate.StatusRefunded, now); err != nil {
			return err
		}
	}
	return s.event(ctx, tx, o, r, paygate.EventRefundSucceeded, now)
}

// refundFailed releases a refund the channel refused.
func (s *Service) refundFailed(ctx context.Context, orderID int64, outRequestNo string, cause error) (*paygate.Refund, error) {
	var r *paygate.Refund
	moved := false
	_, err := s.update(ctx, orderID, func(tx paygate.StoreTx, _ *paygate.Order) error {
		var err error
		if r, err = tx.RefundByRequestNo(ctx, orderID, outRequestNo); err != nil {
			return err
		}
		if r.Status != paygate.RefundPending {
			return errNoChange
		}
		r.Status, r.UpdatedAt, r.FailReason = paygate.RefundFailed, s.now(), failReason(cause)
		if err := tx.UpdateRefund(ctx, r); err != nil {
			return err
		}
		moved = true
		return errNoChange
	})
	if err == nil && moved {
		s.flow().RefundMoved(string(paygate.RefundFailed))
	}
	return r, err
}

func failReason(err error) string {
	var e *ChannelError
	if errors.As(err, &e) && e.Code != "" {
		return refusalCode(e.Code) + ": " + e.Message
	}
	return err.Error()
}

// ListRefunds returns the order's refunds, oldest first.
func (s *Service) ListRefunds(ctx context.Context, m *paygate.Merchant, outTradeNo string) ([]*paygate.Refund, error) {
	o, err := s.cfg.Store.OrderByOutTradeNo(ctx, m.ID, outTradeNo)
	if err != nil {
		return nil, err
	}
	return s.cfg.Store.RefundsByOrder(ctx, o.ID)
}
