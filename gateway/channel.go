package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/paygate/paygate"
)

// Channel is one payment channel account (an Alipay app, a WeChat Pay
// merchant) as the use cases see it: the same verbs and the same outcomes
// whatever protocol is spoken behind them. AlipayChannel and WechatChannel
// implement it; ResilientChannel and ObserveChannel wrap any of them.
//
// Every method's result is never nil, even with an error: what the channel
// said before refusing (a trade number, a retry hint) is still there. An
// error is a *ChannelError (see OutcomeOf) unless the call was never sent
// (ErrNotSent).
type Channel interface {
	// Name is the channel: "alipay" or "wechat".
	Name() string
	// Account is the channel account (app id, mchid), for logs and metrics.
	Account() string
	// Method is the channel's own name of op, as metrics and the order
	// timeline show it (alipay.trade.precreate, wechatpay.native, …).
	Method(op Op) string

	// Precreate asks for a QR code the buyer scans.
	Precreate(ctx context.Context, req PrecreateRequest) (*Precreated, error)
	// Pay charges the buyer's payment code. A Trade whose State is
	// TradeWaiting means the buyer must still confirm on the phone.
	Pay(ctx context.Context, req PayRequest) (*Trade, error)
	// Query reads the trade of channelNo. A trade that does not exist yet
	// is an error with ReasonTradeNotExist.
	Query(ctx context.Context, channelNo string) (*Trade, error)
	// Cancel cancels a payment-code trade whatever its state: an unpaid
	// trade is closed, a paid one refunded in full.
	Cancel(ctx context.Context, channelNo string) (*Cancellation, error)
	// Close closes an unpaid trade. ReasonTradeNotExist: nobody scanned
	// the code yet; ReasonTradeStatus: already paid or closed.
	Close(ctx context.Context, channelNo string) error
	// Refund refunds part of a paid trade; the same OutRequestNo again is
	// the same refund, made at most once.
	Refund(ctx context.Context, req RefundRequest) (*RefundResult, error)
	// RefundQuery reads a refund made with Refund.
	RefundQuery(ctx context.Context, ref RefundRef) (*RefundResult, error)
	// ParseNotification verifies one asynchronous notification (its
	// signature, its account) and returns what it says; the errors wrap
	// ErrNotifySignature, ErrNotifyMalformed or ErrNotifyMismatch. It is
	// local work: nothing is sent.
	ParseNotification(in NotificationInput) (*Notification, error)
}

// Op is a verb of Channel.
type Op string

// The verbs.
const (
	OpPrecreate   Op = "precreate"
	OpPay         Op = "pay"
	OpQuery       Op = "query"
	OpCancel      Op = "cancel"
	OpClose       Op = "close"
	OpRefund      Op = "refund"
	OpRefundQuery Op = "refund_query"
)

// Ops lists every verb.
var Ops = []Op{OpPrecreate, OpPay, OpQuery, OpCancel, OpClose, OpRefund, OpRefundQuery}

// PrecreateRequest asks for a QR code.
type PrecreateRequest struct {
	ChannelNo string // the trade's number at the channel (Order.ChannelNo)
	Subject   string
	Amount    paygate.Money
	ExpiresAt time.Time     // when the buyer can no longer pay
	TimeLeft  time.Duration // until ExpiresAt, on the gateway's clock
}

// Precreated is a QR code to show the buyer.
type Precreated struct {
	QRCode string
}

// PayRequest charges the buyer's payment code.
type PayRequest struct {
	ChannelNo string
	AuthCode  string
	Subject   string
	Amount    paygate.Money
}

// TradeState is what a trade is at the channel, as the use cases act on it.
type TradeState int

// The states. Zero is no state (an answer that names none).
const (
	// TradeWaiting: created, not paid yet; the buyer may still pay or is
	// confirming (Alipay WAIT_BUYER_PAY; WeChat NOTPAY, USERPAYING).
	TradeWaiting TradeState = iota + 1
	// TradePaid: the buyer paid (Alipay TRADE_SUCCESS, TRADE_FINISHED;
	// WeChat SUCCESS, REFUND).
	TradePaid
	// TradeClosed: final, no payment stands (Alipay TRADE_CLOSED; WeChat
	// CLOSED, REVOKED, PAYERROR).
	TradeClosed
)

func (s TradeState) String() string {
	switch s {
	case TradeWaiting:
		return "waiting"
	case TradePaid:
		return "paid"
	case TradeClosed:
		return "closed"
	}
	return "none"
}

// Trade is what the channel says of a trade.
type Trade struct {
	State   TradeState
	Status  string // the channel's own word for it (TRADE_SUCCESS, NOTPAY, …), for logs
	TradeNo string // the channel's id, once it has one
	BuyerID string
	Amount  paygate.Money // the trade's total
	PaidAt  time.Time     // zero when not paid or not said
}

// Paid reports whether the buyer paid.
func (t *Trade) Paid() bool { return t.State == TradePaid }

// Cancellation is a cancel's answer.
type Cancellation struct {
	TradeNo string
	// Refunded: a payment, if the trade had one, was given back. Alipay
	// says so (action=refund); WeChat's reverse always does.
	Refunded bool
}

// RefundRequest refunds part of a paid trade.
type RefundRequest struct {
	ChannelNo    string
	OutRequestNo string        // the refund's number, unique within the order
	Amount       paygate.Money // this refund
	Total        paygate.Money // the trade's total (WeChat asks for it)
	Reason       string
}

// RefundRef names a refund.
type RefundRef struct {
	ChannelNo    string
	OutRequestNo string
}

// RefundResult is what the channel says of a refund.
type RefundResult struct {
	// Done: the money went back (Alipay fund_change=Y or refund_status
	// REFUND_SUCCESS; WeChat SUCCESS). Not done is still being processed,
	// or unclear: asked again later.
	Done   bool
	Amount paygate.Money // the refund's amount, when said
	Status string        // the channel's own word, for logs
}

// NotificationInput is one notification as it arrived: Alipay's is a form,
// WeChat's a JSON body with signed headers.
type NotificationInput struct {
	Form   url.Values
	Header http.Header
	Body   []byte
}

// Notification is what a verified notification says.
type Notification struct {
	ID        string // the channel's notification id
	ChannelNo string // the trade's number (the order's ChannelNo)
	TradeNo   string
	Status    string // the channel's own status word, for the timeline
	State     TradeState
	Amount    paygate.Money // the trade's total
	BuyerID   string
	PaidAt    time.Time
	// RefundNo is set on a notification about a refund: the refund's
	// OutRequestNo as paygate sent it (or as someone else did, at the
	// channel's own console).
	RefundNo string
}

// Paid reports whether the notification says the buyer paid.
func (n *Notification) Paid() bool { return n.State == TradePaid }

// The notification errors every channel's ParseNotification wraps.
var (
	ErrNotifySignature = errors.New("notification signature does not verify")
	ErrNotifyMalformed = errors.New("notification malformed")
	ErrNotifyMismatch  = errors.New("notification does not match the order")
)

// Outcome is what a channel call means for the caller's state.
type Outcome int

// The outcomes. Anything ambiguous is OutcomeUnknown, never OutcomeFailed.
const (
	// OutcomeSuccess: the call worked.
	OutcomeSuccess Outcome = iota + 1
	// OutcomePaying: the buyer must confirm (a pay answer only).
	OutcomePaying
	// OutcomeFailed: a definite business refusal; nothing happened.
	OutcomeFailed
	// OutcomeUnknown: the result cannot be known; ask again (query).
	OutcomeUnknown
	// OutcomeConfig: a configuration or programming error.
	OutcomeConfig
)

func (o Outcome) String() string {
	switch o {
	case OutcomeSuccess:
		return "success"
	case OutcomePaying:
		return "paying"
	case OutcomeFailed:
		return "failed"
	case OutcomeUnknown:
		return "unknown"
	case OutcomeConfig:
		return "config"
	}
	return "outcome?"
}

// Reason is what a refusal means where the use cases act on it.
type Reason string

// The reasons.
const (
	ReasonTradeNotExist Reason = "trade_not_exist" // no trade under that number (nobody scanned yet)
	ReasonTradeStatus   Reason = "trade_status"    // the trade's state forbids it (paid, closed)
)

// ChannelError is a channel call that did not succeed, in the channel's
// neutral terms, wrapping the channel package's own error (whose message it
// shows).
type ChannelError struct {
	Channel string // alipay, wechat
	Method  string // the channel's method name
	Outcome Outcome
	// Code is the channel's code as the order timeline shows it
	// (40004/ACQ.TRADE_NOT_EXIST, ORDER_NOT_EXIST); empty when no answer
	// that verified was read.
	Code    string
	Message string // the channel's message for Code
	Reason  Reason // set where a use case branches on the refusal
	// Retry: the channel asks for the same call again (Alipay's
	// retry_flag=Y on a cancel).
	Retry bool
	// Answered: an answer was read (verified or not); false means no
	// answer came at all (transport, timeout, HTTP status).
	Answered bool
	Err      error
}

func (e *ChannelError) Error() string { return e.Err.Error() }
func (e *ChannelError) Unwrap() error { return e.Err }

// OutcomeOf classifies a channel call's error: nil is Success; a
// *ChannelError carries its own; anything else is Unknown.
func OutcomeOf(err error) Outcome {
	if err == nil {
		return OutcomeSuccess
	}
	var e *ChannelError
	if errors.As(err, &e) {
		return e.Outcome
	}
	return OutcomeUnknown
}

// HasReason reports whether err is a channel refusal for reason r.
func HasReason(err error, r Reason) bool {
	var e *ChannelError
	return errors.As(err, &e) && e.Reason == r
}

// retryAsked reports whether the channel asked for the same call again.
func retryAsked(err error) bool {
	var e *ChannelError
	return errors.As(err, &e) && e.Retry
}

// channelCause is what lies under a channel package's error (the transport
// or verification failure), or err itself.
func channelCause(err error) error {
	if c := errors.Unwrap(err); c != nil {
		return c
	}
	return err
}

// missingChannel stands for a channel an order names but this node does not
// have configured: every call is a configuration error, sent nowhere.
type missingChannel paygate.Channel

func (m missingChannel) err(op Op) error {
	return &ChannelError{Channel: string(m), Method: string(op), Outcome: OutcomeConfig,
		Err: fmt.Errorf("channel %s is not configured on this node", string(m))}
}

func (m missingChannel) Name() string        { return string(m) }
func (m missingChannel) Account() string     { return "" }
func (m missingChannel) Method(op Op) string { return string(m) + "." + string(op) }
func (m missingChannel) Precreate(context.Context, PrecreateRequest) (*Precreated, error) {
	return &Precreated{}, m.err(OpPrecreate)
}
func (m missingChannel) Pay(context.Context, PayRequest) (*Trade, error) {
	return &Trade{}, m.err(OpPay)
}
func (m missingChannel) Query(context.Context, string) (*Trade, error) {
	return &Trade{}, m.err(OpQuery)
}
func (m missingChannel) Cancel(context.Context, string) (*Cancellation, error) {
	return &Cancellation{}, m.err(OpCancel)
}
func (m missingChannel) Close(context.Context, string) error { return m.err(OpClose) }
func (m missingChannel) Refund(context.Context, RefundRequest) (*RefundResult, error) {
	return &RefundResult{}, m.err(OpRefund)
}
func (m missingChannel) RefundQuery(context.Context, RefundRef) (*RefundResult, error) {
	return &RefundResult{}, m.err(OpRefundQuery)
}
func (m missingChannel) ParseNotification(NotificationInput) (*Notification, error) {
	return nil, fmt.Errorf("%w: channel %s is not configured on this node", ErrNotifyMalformed, string(m))
}

// channelTitle is a channel's name as people write it.
func channelTitle(name string) string {
	switch paygate.Channel(name) {
	case paygate.ChannelAlipay:
		return "Alipay"
	case paygate.ChannelWechat:
		return "WeChat Pay"
	}
	return name
}
