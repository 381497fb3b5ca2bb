package gateway

import (
	"context"

	"github.com/paygate/paygate"
)

// CloseOrder closes a pending order, at the channel first: the order is
// closed locally only once the channel has confirmed it can no longer be
// paid. A closed order is returned as it is; a paid one cannot be closed.
func (s *Service) CloseOrder(ctx context.Context, m *paygate.Merchant, outTradeNo string) (*paygate.Order, error) {
	o, err := s.cfg.Store.OrderByOutTradeNo(ctx, m.ID, outTradeNo)
	if err != nil {
		return nil, err
	}
	switch o.Status {
	case paygate.StatusClosed:
		return o, nil
	case paygate.StatusPaid, paygate.StatusRefunded:
		return nil, paygate.Errorf(paygate.EConflict, "order %s is %s; refund it instead of closing", outTradeNo, o.Status)
	}
	return s.closeAtChannel(ctx, o)
}

// closeAtChannel closes a pending order at the channel, then here.
func (s *Service) closeAtChannel(ctx context.Context, o *paygate.Order) (*paygate.Order, error) {
	if o.Channel == paygate.ChannelAuto {
		return s.closeAuto(ctx, o)
	}
	cctx, cancel := s.callCtx(ctx)
	err := s.ch(o).Close(cctx, o.ChannelNo)
	cancel()
	switch {
	case err == nil:
		return s.markClosed(ctx, o.ID, "")
	case HasReason(err, ReasonTradeNotExist):
		// Nobody scanned the code, so no trade exists to close. Whether a
		// close then stops a later scan is not documented; a cancel of a
		// trade that does not exist is, and it bars the out_trade_no.
		return s.cancelUnscanned(ctx, o)
	case HasReason(err, ReasonTradeStatus):
		// Already paid or closed at the channel: learn which.
		settled, qerr := s.settleByQuery(ctx, o)
		if qerr != nil {
			return nil, channelError("close", qerr)
		}
		switch {
		case settled.Status == paygate.StatusPaid:
			return nil, paygate.Errorf(paygate.EConflict, "order %s was paid before it could be closed; refund it instead", o.OutTradeNo)
		case settled.Status != paygate.StatusPending:
			return settled, nil
		case !settled.CancelRequestedAt.IsZero():
			// Paid at the channel while a cancel was on its way (its intent
			// keeps the payment from being applied): see the cancel through.
			return s.cancelTrade(ctx, settled)
		}
		// The channel says the trade cannot be closed, yet a query does not
		// say it is paid or closed: unclear, settled by a later look.
		return nil, paygate.Errorf(paygate.EChannel, "close: the channel refused to close order %s but its status is not final yet; it will be settled by query", o.OutTradeNo)
	default:
		return nil, channelError("close", err)
	}
}

// cancelUnscanned cancels an order whose code nobody scanned yet, as the
// barcode loop cancels (cancelTrade: the intent first, then the cancel,
// repeated while Alipay asks for it). If a buyer paid in the meantime, the
// cancel refunds it and the order still ends closed. A cancel not confirmed
// is unclear (502), never final: compensation repeats it.
func (s *Service) cancelUnscanned(ctx context.Context, o *paygate.Order) (*paygate.Order, error) {
	out, err := s.cancelTrade(ctx, o)
	if err != nil {
		return nil, err
	}
	if out.Status == paygate.StatusPaid || out.Status == paygate.StatusRefunded {
		return nil, paygate.Errorf(paygate.EConflict, "order %s was paid before it could be closed; refund it instead", o.OutTradeNo)
	}
	return out, nil
}
