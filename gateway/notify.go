package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

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
	if o.Mode == paygate.ModeBarcode && o.Status == paygate.StatusPending && s.now().Before(o.CreatedAt.Add(s.barcodeWindow())) {
		// The barcode loop is deciding this payment and may still cancel
		// (and so refund) it: a payment seen now must not be reported, or the
		// merchant could hand over goods for money that goes back. Alipay
		// sends the notification again later; by then the loop has decided.
		log.Info("notification deferred: barcode payment being decided")
		return errDeciding
	}
	if n.Paid() && o.Status == paygate.StatusClosed {
		return s.paidAfterClose(ctx, o, n)
	}
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

// errDeciding answers a notification that arrives while the barcode loop is
// still deciding its payment; Alipay retries it.
var errDeciding = errors.New("barcode payment is being decided; notify again later")

// BarcodeWindow bounds how long creating a barcode order can take: the pay
// call, the polling, then every cancel attempt, each a call and a pause. An
// HTTP server's write timeout must exceed it.
func (s *Service) BarcodeWindow() time.Duration { return s.barcodeWindow() }

// barcodeWindow bounds how long the barcode loop can take: the polling, then
// every cancel attempt, each a call and a pause.
func (s *Service) barcodeWindow() time.Duration {
	return 2*s.cfg.CallTimeout + s.cfg.PollTimeout +
		time.Duration(s.cfg.CancelAttempts)*(s.cfg.CallTimeout+s.cfg.CancelInterval)
}

// paidAfterClose handles a paid notification for a closed order. Most often
// it is stale: the trade was paid, then cancelled and refunded in full, and
// the channel shows it closed. Otherwise money arrived for an order already
// closed: the late-payment policy applies.
func (s *Service) paidAfterClose(ctx context.Context, o *paygate.Order, n *alipay.Notification) error {
	cctx, cancel := s.callCtx(ctx)
	resp, err := s.cfg.Channel.Query(cctx, alipay.TradeRef{OutTradeNo: o.ChannelNo})
	cancel()
	if err != nil {
		return fmt.Errorf("paid notification for closed order %s: query: %w", o.OutTradeNo, err)
	}
	if resp.TradeStatus == alipay.TradeClosed {
		s.log.Info("stale paid notification: the trade is closed at the channel", "out_trade_no", o.OutTradeNo, "notify_id", n.NotifyID)
		return nil
	}
	return s.latePayment(ctx, o, n.TradeNo, n.TotalAmount)
}
