package gateway

import (
	"context"
	"fmt"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
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
	cctx, cancel := s.callCtx(ctx)
	_, err := s.cfg.Channel.Close(cctx, alipay.CloseRequest{OutTradeNo: o.ChannelNo})
	cancel()
	switch {
	case err == nil:
		return s.markClosed(ctx, o.ID, "")
	case alipay.IsSubCode(err, alipay.SubTradeNotExist):
		// Nobody scanned the code, so no trade exists to close. Whether a
		// close then stops a later scan is not documented; a cancel of a
		// trade that does not exist is, and it bars the out_trade_no.
		return s.cancelUnscanned(ctx, o)
	case alipay.IsSubCode(err, alipay.SubTradeStatusError):
		// Already paid or closed at the channel: learn which.
		settled, qerr := s.settleByQuery(ctx, o)
		if qerr != nil {
			return nil, channelError("close", qerr)
		}
		if settled.Status == paygate.StatusPaid {
			return nil, paygate.Errorf(paygate.EConflict, "order %s was paid before it could be closed; refund it instead", o.OutTradeNo)
		}
		return settled, nil
	default:
		return nil, channelError("close", err)
	}
}

// cancelUnscanned cancels an order whose code nobody scanned yet. If a buyer
// paid in the meantime, the cancel refunds it and the order still ends closed.
func (s *Service) cancelUnscanned(ctx context.Context, o *paygate.Order) (*paygate.Order, error) {
	// The intent first, as for a barcode (see requestCancel): a buyer who
	// pays now is refunded by this cancel, so nothing may report that
	// payment once the cancel is on its way.
	marked, err := s.requestCancel(ctx, o.ID)
	if err != nil {
		return nil, fmt.Errorf("record the cancel intent: %w", err)
	}
	switch marked.Status {
	case paygate.StatusPaid, paygate.StatusRefunded:
		return nil, paygate.Errorf(paygate.EConflict, "order %s was paid before it could be closed; refund it instead", o.OutTradeNo)
	case paygate.StatusClosed:
		return marked, nil
	}
	o = marked
	cctx, cancel := s.callCtx(ctx)
	resp, err := s.cfg.Channel.Cancel(cctx, alipay.TradeRef{OutTradeNo: o.ChannelNo})
	cancel()
	if err != nil {
		return nil, channelError("close", err)
	}
	return s.cancelled(ctx, o, resp)
}
