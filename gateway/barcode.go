package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/paygate/paygate"
)

// pay charges the buyer's barcode and follows the official demo's logic (§6):
// 10000 paid; 10003 poll, then cancel; unknown query once, then cancel; a
// refusal closes the order. It returns once the channel has decided, or with
// the order still pending and an error when even cancel could not decide.
// The request's cancellation does not stop it: a half-decided payment is
// worse than a slow answer.
func (s *Service) pay(ctx context.Context, o *paygate.Order, authCode string) (*paygate.Order, error) {
	ctx = context.WithoutCancel(ctx)
	cctx, cancel := s.callCtx(ctx)
	resp, err := s.ch(o).Pay(cctx, PayRequest{
		ChannelNo: o.ChannelNo, AuthCode: authCode, Subject: o.Subject, Amount: o.TotalAmount,
	})
	cancel()
	if errors.Is(err, ErrNotSent) {
		return nil, s.closeNotSent(ctx, o, err) // nobody was charged
	}
	switch OutcomeOf(err) {
	case OutcomeSuccess:
		if resp.State == TradeWaiting {
			return s.waitBarcode(ctx, o)
		}
		return s.markPaid(ctx, o.ID, paidFrom(resp))
	case OutcomeFailed, OutcomeConfig:
		// A definite refusal (bad code, no balance, ...): no money moved.
		s.log.InfoContext(ctx, "barcode pay refused", "out_trade_no", o.OutTradeNo, "err", err)
		if _, cerr := s.markClosed(ctx, o.ID, resp.TradeNo); cerr != nil {
			return nil, cerr
		}
		return nil, channelError("pay", err)
	default:
		s.log.WarnContext(ctx, "barcode pay unknown; querying", "out_trade_no", o.OutTradeNo, "err", err)
		settled, qerr := s.settleByQuery(ctx, o)
		if qerr == nil && settled.Status != paygate.StatusPending {
			return settled, nil
		}
		return s.cancelTrade(ctx, o)
	}
}

// waitBarcode polls while the buyer confirms on the phone, then cancels.
func (s *Service) waitBarcode(ctx context.Context, o *paygate.Order) (*paygate.Order, error) {
	deadline := s.now().Add(s.cfg.PollTimeout)
	for s.now().Before(deadline) {
		if err := s.cfg.Sleep(ctx, s.cfg.PollInterval); err != nil {
			return nil, err
		}
		settled, err := s.settleByQuery(ctx, o)
		if err != nil {
			s.log.WarnContext(ctx, "barcode poll failed", "out_trade_no", o.OutTradeNo, "err", err)
			continue
		}
		if settled.Status != paygate.StatusPending {
			return settled, nil
		}
	}
	return s.cancelTrade(ctx, o)
}

// cancelTrade cancels a payment that could not be decided in time: an
// unpaid trade is closed, a paid one refunded in full. Either way the order
// ends closed, never paid. The intent is recorded first (requestCancel):
// when it cannot be, nothing is sent, and the order is left to
// compensation, which finds it paid or cancels it then. Cancel is repeated
// while Alipay asks for it (retry_flag=Y) or does not answer.
func (s *Service) cancelTrade(ctx context.Context, o *paygate.Order) (*paygate.Order, error) {
	marked, err := s.requestCancel(ctx, o.ID)
	if err != nil {
		s.log.ErrorContext(ctx, "barcode cancel not sent: its intent could not be recorded; compensation settles the order",
			"out_trade_no", o.OutTradeNo, "err", err)
		return nil, fmt.Errorf("record the cancel intent: %w", err)
	}
	if marked.Status != paygate.StatusPending {
		return marked, nil // decided meanwhile: nothing to cancel
	}
	o = marked
	var lastErr error
	for attempt := 1; attempt <= s.cfg.CancelAttempts; attempt++ {
		cctx, cancel := s.callCtx(ctx)
		resp, err := s.ch(o).Cancel(cctx, o.ChannelNo)
		cancel()
		if err == nil {
			s.log.InfoContext(ctx, "barcode payment cancelled", "out_trade_no", o.OutTradeNo, "refunded", resp.Refunded)
			return s.cancelled(ctx, o, resp)
		}
		lastErr = err
		if OutcomeOf(err) == OutcomeFailed && !retryAsked(err) {
			// A definite refusal (e.g. the cancel window passed): ask what
			// the trade really is, and leave it to later settlement if open.
			s.log.ErrorContext(ctx, "barcode cancel refused", "out_trade_no", o.OutTradeNo, "err", err)
			if settled, qerr := s.settleRefusedCancel(ctx, o); qerr == nil && settled.Status != paygate.StatusPending {
				return settled, nil
			}
			break
		}
		s.log.WarnContext(ctx, "barcode cancel to be retried", "out_trade_no", o.OutTradeNo, "attempt", attempt, "err", err)
		if attempt < s.cfg.CancelAttempts {
			if err := s.cfg.Sleep(ctx, s.cfg.CancelInterval); err != nil {
				return nil, err
			}
		}
	}
	s.log.ErrorContext(ctx, "barcode payment undecided: cancel did not succeed", "out_trade_no", o.OutTradeNo, "err", lastErr)
	return nil, paygate.Errorf(paygate.EChannel,
		"pay: the payment could not be decided or cancelled in time; the order stays pending and will be settled by query")
}

// cancelled applies a successful cancel. With action=refund the buyer had
// paid and got the money back: if a notification already marked the order
// paid, that payment is recorded as fully refunded.
func (s *Service) cancelled(ctx context.Context, o *paygate.Order, resp *Cancellation) (*paygate.Order, error) {
	if !resp.Refunded {
		return s.markClosed(ctx, o.ID, resp.TradeNo)
	}
	refunded := false
	o, err := s.update(ctx, o.ID, func(tx paygate.StoreTx, o *paygate.Order) error {
		now := s.now()
		switch o.Status {
		case paygate.StatusPending:
			if err := o.Transition(paygate.StatusClosed, now); err != nil {
				return err
			}
			o.TradeNo = firstNonEmpty(resp.TradeNo, o.TradeNo)
			return s.event(ctx, tx, o, nil, paygate.EventOrderClosed, now)
		case paygate.StatusPaid:
			r := &paygate.Refund{
				OrderID: o.ID, MerchantID: o.MerchantID, OutTradeNo: o.OutTradeNo,
				OutRequestNo: "cancel_" + o.ChannelNo, Amount: o.Refundable(), Reason: "payment cancelled: undecided in time",
				Status: paygate.RefundSucceeded, CreatedAt: now, UpdatedAt: now, SucceededAt: now,
			}
			if err := tx.CreateRefund(ctx, r); err != nil {
				return err
			}
			refunded = true
			return s.refunded(ctx, tx, o, r, now) // all that was left: the order ends refunded
		}
		return errNoChange
	})
	if err == nil && refunded {
		s.flow().RefundMoved(string(paygate.RefundSucceeded))
	}
	return o, err
}

// settleRefusedCancel asks the channel about a trade whose cancel it refused
// for good and applies the answer: a payment then stands (the cancel that
// was requested will never refund it), a closed trade closes the order.
func (s *Service) settleRefusedCancel(ctx context.Context, o *paygate.Order) (*paygate.Order, error) {
	cctx, cancel := s.callCtx(ctx)
	resp, err := s.ch(o).Query(cctx, o.ChannelNo)
	cancel()
	switch {
	case err == nil && resp.Paid():
		p := paidFrom(resp)
		p.CancelRefused = true
		return s.markPaid(ctx, o.ID, p)
	case err == nil && resp.State == TradeClosed:
		return s.markClosed(ctx, o.ID, resp.TradeNo)
	case err == nil, HasReason(err, ReasonTradeNotExist):
		return o, nil
	default:
		return o, err
	}
}
