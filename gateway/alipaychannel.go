package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
)

// AlipayAPI is the part of the Alipay client an AlipayChannel calls;
// *alipay.Client implements it.
type AlipayAPI interface {
	AppID() string
	Precreate(ctx context.Context, req alipay.PrecreateRequest) (*alipay.PrecreateResponse, error)
	Pay(ctx context.Context, req alipay.PayRequest) (*alipay.PayResponse, error)
	Query(ctx context.Context, ref alipay.TradeRef) (*alipay.QueryResponse, error)
	Cancel(ctx context.Context, ref alipay.TradeRef) (*alipay.CancelResponse, error)
	Close(ctx context.Context, req alipay.CloseRequest) (*alipay.CloseResponse, error)
	Refund(ctx context.Context, req alipay.RefundRequest) (*alipay.RefundResponse, error)
	RefundQuery(ctx context.Context, req alipay.RefundQueryRequest) (*alipay.RefundQueryResponse, error)
	ParseNotification(form url.Values) (*alipay.Notification, error)
}

// AlipayChannel is Channel spoken as Alipay's OpenAPI (face-to-face
// payment: precreate, pay, query, cancel, close, refund).
type AlipayChannel struct {
	api       AlipayAPI
	notifyURL string
	sellerID  string
}

var _ Channel = (*AlipayChannel)(nil)

// AlipayConfig sets up an AlipayChannel.
type AlipayConfig struct {
	// NotifyURL is where Alipay sends notifications: this gateway's
	// /notify/alipay as Alipay reaches it. Required.
	NotifyURL string
	// SellerID, when set, must match every notification's seller_id.
	SellerID string
}

// NewAlipayChannel speaks to Alipay through api.
func NewAlipayChannel(api AlipayAPI, cfg AlipayConfig) (*AlipayChannel, error) {
	if api == nil {
		return nil, errors.New("gateway: alipay client is required")
	}
	if err := alipay.CheckNotifyURL(cfg.NotifyURL); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return &AlipayChannel{api: api, notifyURL: cfg.NotifyURL, sellerID: cfg.SellerID}, nil
}

// Name is "alipay".
func (c *AlipayChannel) Name() string { return string(paygate.ChannelAlipay) }

// Account is the app id.
func (c *AlipayChannel) Account() string { return c.api.AppID() }

var alipayMethods = map[Op]string{
	OpPrecreate: alipay.MethodPrecreate, OpPay: alipay.MethodPay, OpQuery: alipay.MethodQuery,
	OpCancel: alipay.MethodCancel, OpClose: alipay.MethodClose, OpRefund: alipay.MethodRefund,
	OpRefundQuery: alipay.MethodRefundQuery,
}

// Method is the OpenAPI method of op.
func (c *AlipayChannel) Method(op Op) string { return alipayMethods[op] }

// AlipayError is an error of the Alipay client in the channel's neutral
// terms (a *ChannelError wrapping it); nil stays nil.
func AlipayError(err error) error {
	if err == nil {
		return nil
	}
	e := &ChannelError{Channel: string(paygate.ChannelAlipay), Outcome: OutcomeUnknown, Err: err}
	var ae *alipay.Error
	if !errors.As(err, &ae) {
		return e
	}
	e.Method, e.Answered = ae.Method, ae.Code != ""
	switch ae.Outcome {
	case alipay.OutcomeSuccess:
		e.Outcome = OutcomeSuccess
	case alipay.OutcomePaying:
		e.Outcome = OutcomePaying
	case alipay.OutcomeFailed:
		e.Outcome = OutcomeFailed
	case alipay.OutcomeConfig:
		e.Outcome = OutcomeConfig
	}
	if ae.Err == nil { // a verified answer: its code can be trusted
		e.Code, e.Message = ae.Code, ae.Msg
		if ae.SubCode != "" {
			e.Code, e.Message = ae.Code+"/"+ae.SubCode, ae.SubMsg
		}
	}
	switch {
	case alipay.IsSubCode(err, alipay.SubTradeNotExist):
		e.Reason = ReasonTradeNotExist
	case alipay.IsSubCode(err, alipay.SubTradeStatusError):
		e.Reason = ReasonTradeStatus
	}
	return e
}

// expressMinutes writes the time left as Alipay's timeout_express, in whole
// minutes (at least 1).
func expressMinutes(d time.Duration) string {
	m := int64(d / time.Minute)
	if m < 1 {
		m = 1
	}
	return strconv.FormatInt(m, 10) + "m"
}

// barcodeExpress is the timeout_express of a barcode pay: the official demos
// use 5m; the order itself is decided (paid or cancelled) far sooner.
const barcodeExpress = "5m"

// Precreate calls alipay.trade.precreate.
func (c *AlipayChannel) Precreate(ctx context.Context, req PrecreateRequest) (*Precreated, error) {
	express := expressMinutes(req.TimeLeft)
	resp, err := c.api.Precreate(ctx, alipay.PrecreateRequest{
		OutTradeNo: req.ChannelNo, TotalAmount: req.Amount, Subject: req.Subject,
		TimeoutExpress: express, QRCodeTimeoutExpress: express, NotifyURL: c.notifyURL,
	})
	return &Precreated{QRCode: resp.QRCode}, AlipayError(err)
}

// Pay calls alipay.trade.pay; 10003 (the buyer confirms) is a waiting trade.
func (c *AlipayChannel) Pay(ctx context.Context, req PayRequest) (*Trade, error) {
	resp, err := c.api.Pay(ctx, alipay.PayRequest{
		OutTradeNo: req.ChannelNo, AuthCode: req.AuthCode, Subject: req.Subject, TotalAmount: req.Amount,
		TimeoutExpress: barcodeExpress, NotifyURL: c.notifyURL,
	})
	t := &Trade{State: TradePaid, Status: alipay.TradeSuccess, TradeNo: resp.TradeNo, BuyerID: resp.BuyerUserID, Amount: resp.TotalAmount}
	if err != nil {
		t.State, t.Status = 0, ""
	} else if resp.Outcome() == alipay.OutcomePaying {
		t.State, t.Status = TradeWaiting, alipay.TradeWaitBuyerPay
	}
	if p, perr := alipay.ParseTime(resp.GmtPayment); perr == nil && t.State == TradePaid {
		t.PaidAt = p
	}
	return t, AlipayError(err)
}

// alipayState maps a trade_status.
func alipayState(status string) TradeState {
	switch status {
	case alipay.TradeWaitBuyerPay:
		return TradeWaiting
	case alipay.TradeSuccess, alipay.TradeFinished:
		return TradePaid
	case alipay.TradeClosed:
		return TradeClosed
	}
	return 0
}

// Query calls alipay.trade.query.
func (c *AlipayChannel) Query(ctx context.Context, channelNo string) (*Trade, error) {
	resp, err := c.api.Query(ctx, alipay.TradeRef{OutTradeNo: channelNo})
	t := &Trade{State: alipayState(resp.TradeStatus), Status: resp.TradeStatus, TradeNo: resp.TradeNo,
		BuyerID: resp.BuyerUserID, Amount: resp.TotalAmount}
	if p, perr := alipay.ParseTime(resp.SendPayDate); perr == nil && t.State == TradePaid {
		t.PaidAt = p
	}
	if err != nil {
		*t = Trade{TradeNo: resp.TradeNo}
	}
	return t, AlipayError(err)
}

// Cancel calls alipay.trade.cancel; a refusal with retry_flag=Y asks for
// the same cancel again (ChannelError.Retry).
func (c *AlipayChannel) Cancel(ctx context.Context, channelNo string) (*Cancellation, error) {
	resp, err := c.api.Cancel(ctx, alipay.TradeRef{OutTradeNo: channelNo})
	out := &Cancellation{TradeNo: resp.TradeNo, Refunded: resp.Action == alipay.ActionRefund}
	err = AlipayError(err)
	var e *ChannelError
	if errors.As(err, &e) && resp.Retry() {
		e.Retry = true
	}
	return out, err
}

// Close calls alipay.trade.close.
func (c *AlipayChannel) Close(ctx context.Context, channelNo string) error {
	_, err := c.api.Close(ctx, alipay.CloseRequest{OutTradeNo: channelNo})
	return AlipayError(err)
}

// Refund calls alipay.trade.refund; fund_change=Y means the money moved.
func (c *AlipayChannel) Refund(ctx context.Context, req RefundRequest) (*RefundResult, error) {
	resp, err := c.api.Refund(ctx, alipay.RefundRequest{
		OutTradeNo: req.ChannelNo, RefundAmount: req.Amount, OutRequestNo: req.OutRequestNo, RefundReason: req.Reason,
	})
	out := &RefundResult{Done: err == nil && resp.FundChange == "Y", Status: "fund_change " + resp.FundChange}
	if out.Done {
		out.Amount = req.Amount
	}
	return out, AlipayError(err)
}

// RefundQuery calls alipay.trade.fastpay.refund.query.
func (c *AlipayChannel) RefundQuery(ctx context.Context, ref RefundRef) (*RefundResult, error) {
	resp, err := c.api.RefundQuery(ctx, alipay.RefundQueryRequest{OutTradeNo: ref.ChannelNo, OutRequestNo: ref.OutRequestNo})
	if err != nil {
		return &RefundResult{}, AlipayError(err)
	}
	return &RefundResult{Done: resp.Refunded(), Amount: resp.RefundAmount, Status: resp.RefundStatus}, nil
}

// ParseNotification verifies an Alipay notification form: its signature,
// its app id and, when configured, its seller.
func (c *AlipayChannel) ParseNotification(in NotificationInput) (*Notification, error) {
	n, err := c.api.ParseNotification(in.Form)
	if err != nil {
		return nil, alipayNotifyError(err)
	}
	out := &Notification{ID: n.NotifyID, ChannelNo: n.OutTradeNo, TradeNo: n.TradeNo, Status: n.TradeStatus,
		State: alipayState(n.TradeStatus), Amount: n.TotalAmount, BuyerID: n.BuyerID, PaidAt: n.GmtPayment,
		RefundNo: n.OutBizNo}
	// The amount is checked against the order by the use case; the
	// account here, where it is known.
	if err := n.Check(alipay.NotifyExpect{AppID: c.api.AppID(), TotalAmount: n.TotalAmount, SellerID: c.sellerID}); err != nil {
		return out, alipayNotifyError(err)
	}
	return out, nil
}

// alipayNotifyError adds the neutral notification error to err's chain.
func alipayNotifyError(err error) error {
	switch {
	case errors.Is(err, alipay.ErrNotifySignature):
		return fmt.Errorf("%w: %w", ErrNotifySignature, err)
	case errors.Is(err, alipay.ErrNotifyMalformed):
		return fmt.Errorf("%w: %w", ErrNotifyMalformed, err)
	case errors.Is(err, alipay.ErrNotifyMismatch):
		return fmt.Errorf("%w: %w", ErrNotifyMismatch, err)
	}
	return err
}
