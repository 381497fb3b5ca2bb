package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/paygate/paygate"
)

// handleNotification is HandleNotification (observe.go) without its report.
// Once the notification is verified and its order found, seen says which.
func (s *Service) handleNotification(ctx context.Context, ch Channel, in NotificationInput, seen *notified) error {
	n, err := ch.ParseNotification(in)
	if err != nil {
		return err
	}
	o, err := s.cfg.Store.OrderByChannelNo(ctx, n.ChannelNo)
	if err != nil {
		return fmt.Errorf("notification for out_trade_no %s: %w", n.ChannelNo, err)
	}
	seen.orderID, seen.tradeStatus, seen.notifyID, seen.outBizNo = o.ID, n.Status, n.ID, n.RefundNo
	if n.Amount != o.TotalAmount {
		return fmt.Errorf("%w: total_amount %s is not the order's %s", ErrNotifyMismatch, n.Amount, o.TotalAmount)
	}
	name := paygate.Channel(ch.Name())
	if !offeredOn(o, name) {
		return fmt.Errorf("%w: a %s notification for order %s, taken on %s", ErrNotifyMismatch, name, o.OutTradeNo, o.Channel.OrDefault())
	}
	log := s.log.With("out_trade_no", o.OutTradeNo, "notify_id", n.ID, "trade_status", n.Status, "channel", name)
	if o.Channel != paygate.ChannelAuto && o.Channel.OrDefault() != name {
		// The other side of an auto order a payment on o.Channel decided:
		// only money arriving there matters, as a late payment.
		if n.Paid() && n.RefundNo == "" {
			return s.paidAfterClose(ctx, o, name, n)
		}
		log.InfoContext(ctx, "notification from the other channel of a decided auto order: nothing to apply")
		return nil
	}
	if o.Channel == paygate.ChannelAuto && n.State == TradeClosed {
		// One side closed; the other may still be paid: the order is
		// closed when both are (see settleAuto, closeAuto).
		log.InfoContext(ctx, "one side of an auto order closed")
		return nil
	}
	if o.Status == paygate.StatusPending && n.State == TradeClosed {
		// TRADE_CLOSED is final at the channel and never stale: the trade was
		// never paid, or its payment went back in full (a cancel with
		// action=refund, or refunds). Either way no money stays, and the
		// order ends closed, whatever this notification's other fields say.
		_, err = s.markClosed(ctx, o.ID, n.TradeNo)
		return err
	}
	if s.barcodeDeciding(o) {
		// The barcode loop is deciding this payment and may still cancel
		// (and so refund) it: a payment seen now must not be reported, or the
		// merchant could hand over goods for money that goes back. Alipay
		// sends the notification again later; by then the loop has decided.
		log.InfoContext(ctx, "notification deferred: barcode payment being decided")
		return errDeciding
	}
	if o.Status == paygate.StatusPending && !o.CancelRequestedAt.IsZero() {
		// A cancel is on its way (or its answer was lost): it refunds this
		// payment. Compensation repeats the cancel until the channel
		// confirms it; Alipay repeats this notification, which then finds
		// the order closed.
		log.InfoContext(ctx, "notification deferred: the order is being cancelled")
		return errCancelling
	}
	// A refund notification is not a late payment, even when it says paid:
	// WeChat Pay's trade stays REFUND (paid) after a full refund.
	if n.Paid() && n.RefundNo == "" && o.Status == paygate.StatusClosed {
		return s.paidAfterClose(ctx, o, name, n)
	}
	if n.RefundNo != "" {
		return s.applyRefundNotification(ctx, o, name, n)
	}
	switch {
	case n.Paid() && o.Channel == paygate.ChannelAuto:
		_, err = s.paidOn(ctx, o, paidInfo{TradeNo: n.TradeNo, BuyerID: n.BuyerID, Amount: n.Amount, PaidAt: n.PaidAt, Channel: name})
	case n.Paid():
		_, err = s.markPaid(ctx, o.ID, paidInfo{TradeNo: n.TradeNo, BuyerID: n.BuyerID, Amount: n.Amount, PaidAt: n.PaidAt})
	default:
		// TRADE_CLOSED for an order already decided (for a paid one it means
		// a full refund, applied from refunds and their notifications), or a
		// status that changes nothing.
		log.InfoContext(ctx, "notification needs no change")
	}
	return err
}

// applyRefundNotification settles a refund. The order is not pending with a
// cancel requested, nor is the trade closed (see HandleNotification): its
// trade is paid at the channel, partly refunded. A pending order is marked
// paid first (the payment notification was lost), then the refund is
// applied: the gateway's own by its out_request_no, any other (made at the
// channel, outside this gateway) as the channel's refund query reports it.
func (s *Service) applyRefundNotification(ctx context.Context, o *paygate.Order, name paygate.Channel, n *Notification) error {
	if o.Status == paygate.StatusPending {
		paid, err := s.paidOn(ctx, o, paidInfo{TradeNo: n.TradeNo, BuyerID: n.BuyerID, Amount: n.Amount, PaidAt: n.PaidAt, Channel: name})
		if err != nil {
			return err
		}
		if paid.Status == paygate.StatusPending {
			// A cancel's intent was recorded meanwhile: the refund cannot be
			// recorded on an order that is not paid; Alipay sends it again.
			return errCancelling
		}
		o = paid
	}
	no := n.RefundNo
	if name == paygate.ChannelWechat {
		no = s.wechatRefundOf(ctx, o, no)
	}
	_, err := s.refundSucceeded(ctx, o.ID, no)
	if paygate.ErrorCode(err) == paygate.ENotFound {
		return s.channelRefund(ctx, o, no)
	}
	return err
}

// wechatRefundOf is the out_request_no of o's refund that WeChat Pay knows
// as outRefundNo: a long out_request_no is sent as a hash that cannot be
// read back (see WechatOutRefundNo), so o's refunds are matched against it.
// Anything else is returned as it is.
func (s *Service) wechatRefundOf(ctx context.Context, o *paygate.Order, outRefundNo string) string {
	refunds, err := s.cfg.Store.RefundsByOrder(ctx, o.ID)
	if err != nil {
		return outRefundNo // looked up again when the notification is retried
	}
	for _, r := range refunds {
		if r.OutRequestNo == outRefundNo {
			return outRefundNo
		}
		if WechatOutRefundNo(o.ChannelNo, r.OutRequestNo) == outRefundNo {
			return r.OutRequestNo
		}
	}
	return outRefundNo
}

// errDeciding answers a notification that arrives while the barcode loop is
// still deciding its payment; Alipay retries it.
var errDeciding = fmt.Errorf("barcode payment is being decided; %w", paygate.ErrNotifyLater)

// errCancelling answers a notification for an order whose cancel is on its
// way; Alipay retries it.
var errCancelling = fmt.Errorf("the order is being cancelled; %w", paygate.ErrNotifyLater)

// barcodeDeciding reports whether o is a barcode payment its loop may still
// be deciding: pending and within the loop's window since creation.
func (s *Service) barcodeDeciding(o *paygate.Order) bool {
	return o.Mode == paygate.ModeBarcode && o.Status == paygate.StatusPending && s.now().Before(o.CreatedAt.Add(s.barcodeWindow()))
}

// BarcodeWindow is the longest a barcode payment's create call can take
// to decide (pay, polling, every cancel attempt): what an Idempotency-Key's
// lease must outlast, so that a client's repeat waits for the first
// request's answer instead of taking over a payment still being decided.
func (s *Service) BarcodeWindow() time.Duration { return s.barcodeWindow() }

// barcodeWindow bounds how long the barcode loop can take: the pay call;
// the polling, whose last round (a pause and a query) may start just before
// PollTimeout; every cancel attempt, each a call and a pause; the query
// after a cancel refused for good; and a margin for the database writes in
// between (a SQLite write may wait its 10 s busy timeout). Overrunning it is
// safe for money (the cancel intent decides, see requestCancel); it only
// lets compensation cancel a slow buyer's payment early.
func (s *Service) barcodeWindow() time.Duration {
	return s.cfg.CallTimeout + s.cfg.PollTimeout + s.cfg.PollInterval + s.cfg.CallTimeout +
		time.Duration(s.cfg.CancelAttempts)*(s.cfg.CallTimeout+s.cfg.CancelInterval) + s.cfg.CallTimeout +
		15*time.Second
}

// paidAfterClose handles a paid notification for a closed order. Most often
// it is stale: the trade was paid, then cancelled and refunded in full, and
// the channel shows it closed. Otherwise money arrived for an order already
// closed: the late-payment policy applies. A trade closed by the policy's
// own refund, whose answer was lost when the notification came before (so
// that it was not acknowledged), is that late payment: it is reported now.
func (s *Service) paidAfterClose(ctx context.Context, o *paygate.Order, name paygate.Channel, n *Notification) error {
	cctx, cancel := s.callCtx(ctx)
	resp, err := s.chNamed(o, name).Query(cctx, o.ChannelNo)
	cancel()
	if err != nil {
		return fmt.Errorf("paid notification for closed order %s: query: %w", o.OutTradeNo, err)
	}
	if resp.State == TradeClosed {
		late, err := s.refundedLate(ctx, o, name)
		if err != nil {
			return fmt.Errorf("paid notification for closed order %s: %w", o.OutTradeNo, err)
		}
		if late {
			return s.lateRefundFound(ctx, o, name, n.TradeNo, n.Amount)
		}
		s.log.InfoContext(ctx, "stale paid notification: the trade is closed at the channel", "out_trade_no", o.OutTradeNo, "notify_id", n.ID)
		return nil
	}
	return s.latePayment(ctx, o, name, n.TradeNo, n.Amount)
}

// channelRefund records a refund the channel made that this gateway did not
// (at Alipay's console, say), so that the books follow the channel: its
// amount is asked of the channel's refund query by its out_request_no, then
// it is applied like the gateway's own, in one transaction: a succeeded
// refund, the order's refunded amount, refunded in full, the
// refund.succeeded event. A refund past what the order has left is reported
// for an operator, never applied. A closed or fully refunded order has
// nothing left to refund: its trade's refunds (a cancel's, a late
// payment's) change nothing here.
func (s *Service) channelRefund(ctx context.Context, o *paygate.Order, outRequestNo string) error {
	log := s.log.With("out_trade_no", o.OutTradeNo, "out_request_no", outRequestNo)
	if o.Status.Final() {
		log.InfoContext(ctx, "refund notification for an order with nothing left to refund")
		return nil
	}
	cctx, cancel := s.callCtx(ctx)
	resp, err := s.ch(o).RefundQuery(cctx, RefundRef{ChannelNo: o.ChannelNo, OutRequestNo: outRequestNo})
	cancel()
	if err != nil {
		return fmt.Errorf("refund %s made at the channel for order %s: query: %w", outRequestNo, o.OutTradeNo, err)
	}
	if !resp.Done || resp.Amount <= 0 {
		log.WarnContext(ctx, "refund notification for a refund the channel does not confirm", "refund_status", resp.Status)
		return nil
	}
	recorded := false
	_, err = s.update(ctx, o.ID, func(tx paygate.StoreTx, o *paygate.Order) error {
		if _, err := tx.RefundByRequestNo(ctx, o.ID, outRequestNo); err == nil {
			return errNoChange // recorded meanwhile
		} else if paygate.ErrorCode(err) != paygate.ENotFound {
			return err
		}
		switch o.Status {
		case paygate.StatusPending:
			// Not paid here (yet): nothing to record the refund on, and
			// acknowledging it would lose it. Alipay sends it again.
			return fmt.Errorf("refund %s made at the channel for order %s, which is not paid here yet: not applied", outRequestNo, o.OutTradeNo)
		case paygate.StatusPaid:
		default:
			return errNoChange // closed or fully refunded: nothing left
		}
		if o.RefundedAmount+resp.Amount > o.TotalAmount {
			log.ErrorContext(ctx, "refund made at the channel exceeds what the order has left: not applied; an operator must look",
				"amount", resp.Amount.Yuan(), "refunded", o.RefundedAmount.Yuan(), "total", o.TotalAmount.Yuan())
			return errNoChange
		}
		now := s.now()
		r := &paygate.Refund{
			OrderID: o.ID, MerchantID: o.MerchantID, OutTradeNo: o.OutTradeNo, OutRequestNo: outRequestNo,
			Amount: resp.Amount, Reason: "refunded at the channel, not through paygate",
			Status: paygate.RefundSucceeded, CreatedAt: now, UpdatedAt: now, SucceededAt: now,
		}
		if err := tx.CreateRefund(ctx, r); err != nil {
			return err
		}
		log.WarnContext(ctx, "recorded a refund made at the channel, not through paygate", "amount", r.Amount.Yuan())
		recorded = true
		return s.refunded(ctx, tx, o, r, now)
	})
	if err == nil && recorded {
		s.flow().RefundMoved(string(paygate.RefundSucceeded))
	}
	return err
}
