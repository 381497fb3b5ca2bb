package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/paygate/paygate"
)

// Auto orders: one QR order offered on both channels at once (two codes,
// one counter). The order keeps channel "auto" while it waits; the first
// payment, on either side, decides it: the order names that channel from
// then on, and the other side's trade is closed at its channel. Money that
// still arrives on the other side is a late payment (refunded by policy),
// as money for a closed order is. A side whose channel cannot take the
// order (its circuit open, a refusal, not configured, no clear answer) is
// not offered: the order is then taken on the other channel alone.

// autoSides are the channels o has a code on, Alipay first: both for an
// auto order (decided or not), one for any other.
func autoSides(o *paygate.Order) []paygate.Channel {
	var sides []paygate.Channel
	if o.QRCode != "" {
		sides = append(sides, paygate.ChannelAlipay)
	}
	if o.WechatCode != "" {
		sides = append(sides, paygate.ChannelWechat)
	}
	return sides
}

// offeredOn reports whether o may hear from channel name: its own channel
// (Alipay for an order stored before orders named one), or any side it has
// a code on (an auto order, even once decided), or either while an auto
// order has no code yet.
func offeredOn(o *paygate.Order, name paygate.Channel) bool {
	switch {
	case o.Channel.OrDefault() == name, o.Channel == paygate.ChannelAuto && o.QRCode == "" && o.WechatCode == "":
		return true
	}
	for _, side := range autoSides(o) {
		if side == name {
			return true
		}
	}
	return false
}

// precreateAuto asks both channels for a code at once. Both answer: the
// order shows both. One answers: the order is taken on that channel alone
// (the other never gave a code, so no buyer can pay there). Neither: as a
// single channel's precreate, pending and repeatable unless both refused.
func (s *Service) precreateAuto(ctx context.Context, o *paygate.Order) (*paygate.Order, error) {
	names := []paygate.Channel{paygate.ChannelAlipay, paygate.ChannelWechat}
	codes := make([]string, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			cctx, cancel := s.callCtx(ctx)
			defer cancel()
			p, err := s.chNamed(o, name).Precreate(cctx, PrecreateRequest{
				ChannelNo: o.ChannelNo, Amount: o.TotalAmount, Subject: o.Subject,
				ExpiresAt: o.ExpiresAt, TimeLeft: o.ExpiresAt.Sub(s.now()),
			})
			codes[i], errs[i] = p.QRCode, err
		})
	}
	wg.Wait()
	var offered []paygate.Channel
	for i, name := range names {
		if errs[i] == nil && codes[i] != "" {
			offered = append(offered, name)
			continue
		}
		s.log.WarnContext(ctx, "auto order not offered on one channel", "out_trade_no", o.OutTradeNo, "channel", name, "err", errs[i])
	}
	if len(offered) > 0 {
		return s.update(ctx, o.ID, func(_ paygate.StoreTx, o *paygate.Order) error {
			if o.Status != paygate.StatusPending || o.Channel != paygate.ChannelAuto {
				return errNoChange
			}
			o.QRCode, o.WechatCode = codes[0], codes[1]
			if len(offered) == 1 {
				o.Channel = offered[0]
				s.log.WarnContext(ctx, "auto order taken on one channel alone", "out_trade_no", o.OutTradeNo, "channel", o.Channel)
			}
			o.UpdatedAt = s.now()
			return nil
		})
	}
	notSent, refused := 0, 0
	for _, err := range errs {
		switch {
		case errors.Is(err, ErrNotSent):
			notSent++
		case OutcomeOf(err) == OutcomeFailed || OutcomeOf(err) == OutcomeConfig:
			refused++
		}
	}
	switch {
	case notSent == len(errs):
		return nil, errs[0] // nothing reached either channel: a repeat precreates
	case notSent+refused == len(errs):
		if _, err := s.markClosed(ctx, o.ID, ""); err != nil {
			return nil, err
		}
		for _, err := range errs {
			if !errors.Is(err, ErrNotSent) {
				return nil, channelError("precreate", err)
			}
		}
	}
	for _, err := range errs {
		if !errors.Is(err, ErrNotSent) && OutcomeOf(err) == OutcomeUnknown {
			return nil, channelError("precreate", err)
		}
	}
	return nil, channelError("precreate", errs[0])
}

// settleAuto asks each side of a waiting auto order: the first found paid
// decides it (and the other side is closed); both closed close it.
func (s *Service) settleAuto(ctx context.Context, o *paygate.Order) (*paygate.Order, error) {
	sides := autoSides(o)
	closed := 0
	var firstErr error
	for _, name := range sides {
		cctx, cancel := s.callCtx(ctx)
		t, err := s.chNamed(o, name).Query(cctx, o.ChannelNo)
		cancel()
		switch {
		case err == nil && t.Paid():
			p := paidFrom(t)
			p.Channel = name
			return s.paidOn(ctx, o, p)
		case err == nil && t.State == TradeClosed:
			closed++
		case err == nil, HasReason(err, ReasonTradeNotExist):
		case firstErr == nil:
			firstErr = err
		}
	}
	switch {
	case firstErr != nil:
		return o, firstErr
	case len(sides) > 0 && closed == len(sides):
		return s.markClosed(ctx, o.ID, "")
	}
	return o, nil
}

// paidOn applies a payment p.Channel confirmed for an auto order; once it
// decided the order, the other side is closed at its channel (best effort
// now; compensation repeats it, and a payment that still gets through
// there is a late payment).
func (s *Service) paidOn(ctx context.Context, o *paygate.Order, p paidInfo) (*paygate.Order, error) {
	paid, err := s.markPaid(ctx, o.ID, p)
	if err == nil && paid.Status != paygate.StatusPending && paid.Channel == p.Channel {
		if cerr := s.closeOthers(ctx, paid); cerr != nil {
			s.log.WarnContext(ctx, "auto order paid: the other channel's trade not closed yet; compensation tries again",
				"out_trade_no", o.OutTradeNo, "paid_on", p.Channel, "err", cerr)
		}
	}
	return paid, err
}

// closeSide closes o's trade at channel name. It returns the trade when the
// channel shows it paid, or closed after refusing the close (a trade that
// had ended before: closed unpaid, or paid and refunded in full); nil once
// it can no longer be paid (closed by this call, or never scanned: Alipay
// creates the trade only at the scan, and the precreate's timeout_express
// ends the code at the order's expiry).
func (s *Service) closeSide(ctx context.Context, o *paygate.Order, name paygate.Channel) (*Trade, error) {
	ch := s.chNamed(o, name)
	cctx, cancel := s.callCtx(ctx)
	err := ch.Close(cctx, o.ChannelNo)
	cancel()
	switch {
	case err == nil, HasReason(err, ReasonTradeNotExist):
		return nil, nil
	case !HasReason(err, ReasonTradeStatus):
		return nil, err
	}
	cctx, cancel = s.callCtx(ctx)
	t, err := ch.Query(cctx, o.ChannelNo)
	cancel()
	switch {
	case err != nil:
		return nil, err
	case t.Paid(), t.State == TradeClosed:
		return t, nil
	}
	return nil, fmt.Errorf("%s refused to close the trade of order %s, which it shows %s", channelTitle(string(name)), o.OutTradeNo, t.Status)
}

// closeOthers closes the sides of a decided auto order other than its
// channel; a payment found there is a late payment. So is a trade found
// closed by the late-payment policy's refund, whose answer was lost (a
// trade refunded in full shows closed): it is reported now.
func (s *Service) closeOthers(ctx context.Context, o *paygate.Order) error {
	for _, name := range autoSides(o) {
		if name == o.Channel {
			continue
		}
		t, err := s.closeSide(ctx, o, name)
		switch {
		case err != nil:
			return err
		case t == nil:
		case t.Paid():
			if err := s.latePayment(ctx, o, name, t.TradeNo, t.Amount); err != nil {
				return err
			}
		default: // closed before this close
			late, err := s.refundedLate(ctx, o, name)
			if err != nil {
				return err
			}
			if late {
				if err := s.lateRefundFound(ctx, o, name, t.TradeNo, t.Amount); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// closeAuto closes a waiting auto order at both channels, then here. A side
// found paid decides the order instead: the merchant is told to refund.
func (s *Service) closeAuto(ctx context.Context, o *paygate.Order) (*paygate.Order, error) {
	for _, name := range autoSides(o) {
		t, err := s.closeSide(ctx, o, name)
		if err != nil {
			return nil, channelError("close", err)
		}
		if t != nil && t.Paid() {
			p := paidFrom(t)
			p.Channel = name
			if _, err := s.paidOn(ctx, o, p); err != nil {
				return nil, err
			}
			return nil, paygate.Errorf(paygate.EConflict, "order %s was paid before it could be closed; refund it instead", o.OutTradeNo)
		}
	}
	return s.markClosed(ctx, o.ID, "")
}

// decidedAuto reports whether o is an auto order a payment decided: it has
// a code on both channels and names one of them.
func decidedAuto(o *paygate.Order) bool {
	return o.Channel != paygate.ChannelAuto && len(autoSides(o)) == 2
}
