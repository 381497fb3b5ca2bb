package gateway

import (
	"context"
	"fmt"
	"net/url"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
)

// HandleNotification verifies an Alipay notification and applies it: the
// signature, the app id, that the order exists, that the amount (and the
// seller, when configured) match (§5.4). The change commits in one
// transaction; a duplicate changes nothing. nil means durably applied.
func (s *Service) HandleNotification(ctx context.Context, form url.Values) error {
	n, err := s.cfg.Channel.ParseNotification(form)
	if err != nil {
		return err
	}
	o, err := s.cfg.Store.OrderByChannelNo(ctx, n.OutTradeNo)
	if err != nil {
		return fmt.Errorf("notification for out_trade_no %s: %w", n.OutTradeNo, err)
	}
	if err := n.Check(alipay.NotifyExpect{AppID: s.cfg.Channel.AppID(), TotalAmount: o.TotalAmount, SellerID: s.cfg.SellerID}); err != nil {
		return err
	}
	log := s.log.With("out_trade_no", o.OutTradeNo, "notify_id", n.NotifyID, "trade_status", n.TradeStatus)
	if n.OutBizNo != "" {
		return s.applyRefundNotification(ctx, o, n)
	}
	switch {
	case n.Paid():
		_, err = s.markPaid(ctx, o.ID, paidInfo{TradeNo: n.TradeNo, BuyerID: n.BuyerID, Amount: n.TotalAmount, PaidAt: n.GmtPayment})
	case n.TradeStatus == alipay.TradeClosed:
		// For an unpaid trade, closed is final. For a paid one it means a
		// full refund, which this gateway applies from its own refunds.
		_, err = s.markClosed(ctx, o.ID, n.TradeNo)
	default:
		log.Info("notification needs no change")
	}
	return err
}

// applyRefundNotification settles a refund the gateway made. A payment it
// implies is applied first, in case that notification was lost.
func (s *Service) applyRefundNotification(ctx context.Context, o *paygate.Order, n *alipay.Notification) error {
	if o.Status == paygate.StatusPending {
		if _, err := s.markPaid(ctx, o.ID, paidInfo{TradeNo: n.TradeNo, BuyerID: n.BuyerID, Amount: n.TotalAmount, PaidAt: n.GmtPayment}); err != nil {
			return err
		}
	}
	_, err := s.refundSucceeded(ctx, o.ID, n.OutBizNo)
	if paygate.ErrorCode(err) == paygate.ENotFound {
		s.log.Warn("refund notification for a refund this gateway did not make", "out_trade_no", o.OutTradeNo, "out_biz_no", n.OutBizNo)
		return nil
	}
	return err
}
