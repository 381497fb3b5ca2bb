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

// FlowObserver receives the business counts an operator watches: order and
// refund transitions (reported once committed) and how each notification
// ended. A Config.Observer that also implements FlowObserver receives them;
// cmd backs it with Prometheus.
type FlowObserver interface {
	// OrderMoved: an order of mode (qr, barcode) entered status (pending at
	// creation, paid, closed, refunded); amount is its total.
	OrderMoved(mode, status string, amount paygate.Money)
	// RefundMoved: a refund entered status (pending, succeeded, failed).
	RefundMoved(status string)
	// Notification: one notification ended with result, one of
	// NotifyResults.
	Notification(result string)
}

// The results of a notification.
const (
	NotifyApplied          = "applied"           // it changed the order (or carried out the late-payment policy)
	NotifyDuplicate        = "duplicate"         // verified, and it changed nothing: already applied
	NotifyDeferred         = "deferred"          // answered failure on purpose: Alipay sends it again later
	NotifyRefusedSignature = "refused_signature" // the signature does not verify, or the form cannot be verified
	NotifyRefusedMismatch  = "refused_mismatch"  // signed, but not for an order of this gateway as stored (app id, amount, seller, order)
	NotifyError            = "error"             // could not be applied now (store, channel): Alipay retries
)

// NotifyResults lists every notification result, for metrics to start at zero.
var NotifyResults = []string{NotifyApplied, NotifyDuplicate, NotifyDeferred, NotifyRefusedSignature, NotifyRefusedMismatch, NotifyError}

// flow is the observer's FlowObserver side, or one that counts nothing.
func (s *Service) flow() FlowObserver {
	if f, ok := s.cfg.Observer.(FlowObserver); ok {
		return f
	}
	return noFlow{}
}

type noFlow struct{}

func (noFlow) OrderMoved(string, string, paygate.Money) {}
func (noFlow) RefundMoved(string)                       {}
func (noFlow) Notification(string)                      {}

// changeKey marks a context whose handling records whether it wrote
// anything (see HandleNotification).
type changeKey struct{}

// noteChange records, for a HandleNotification in progress, that it wrote
// a change.
func noteChange(ctx context.Context) {
	if p, ok := ctx.Value(changeKey{}).(*bool); ok {
		*p = true
	}
}

// orderWritten reports an order update committed by update: the change
// (for notifications) and its transition, if its status moved.
func (s *Service) orderWritten(ctx context.Context, before paygate.OrderStatus, o *paygate.Order) {
	noteChange(ctx)
	if o.Status != before {
		s.flow().OrderMoved(string(o.Mode), string(o.Status), o.TotalAmount)
	}
}

// HandleNotification verifies an Alipay notification form and applies it;
// see HandleChannelNotification.
func (s *Service) HandleNotification(ctx context.Context, form url.Values) error {
	return s.HandleChannelNotification(ctx, string(paygate.ChannelAlipay), NotificationInput{Form: form})
}

// HandleWechatNotification verifies a WeChat Pay notification (its signed
// headers and encrypted resource) and applies it; see
// HandleChannelNotification.
func (s *Service) HandleWechatNotification(ctx context.Context, header http.Header, body []byte) error {
	return s.HandleChannelNotification(ctx, string(paygate.ChannelWechat), NotificationInput{Header: header, Body: body})
}

// HandleChannelNotification verifies a notification of the named channel
// and applies it: the signature and the account (the channel's
// ParseNotification), that the order exists and is taken on that channel,
// that the amount matches (§5.4). The change commits in one transaction,
// shared with the notifications handled at the same time (a group commit,
// see groupCommit); a duplicate changes nothing. nil means durably applied.
// Each call's result is reported to the FlowObserver and, once its order is
// known, to the ActivityRecorder.
func (s *Service) HandleChannelNotification(ctx context.Context, channel string, in NotificationInput) error {
	ch := s.channels[channel]
	if ch == nil {
		return fmt.Errorf("%w: channel %s is not configured on this node", ErrNotifyMalformed, channel)
	}
	changed := false
	seen := notified{at: s.now()}
	ctx = context.WithValue(context.WithValue(ctx, changeKey{}, &changed), groupKey{}, true)
	err := s.handleNotification(ctx, ch, in, &seen)
	result := notifyResult(err, changed)
	s.flow().Notification(result)
	s.recordNotification(&seen, result, err)
	return err
}

// notifyResult classifies how a notification ended.
func notifyResult(err error, changed bool) string {
	switch {
	case err == nil && changed:
		return NotifyApplied
	case err == nil:
		return NotifyDuplicate
	case errors.Is(err, errDeciding), errors.Is(err, errCancelling):
		return NotifyDeferred
	case errors.Is(err, ErrNotifySignature), errors.Is(err, ErrNotifyMalformed):
		return NotifyRefusedSignature
	case errors.Is(err, ErrNotifyMismatch), paygate.ErrorCode(err) == paygate.ENotFound:
		return NotifyRefusedMismatch
	}
	return NotifyError
}

// ChannelObserver receives one report per channel call made through
// ObserveChannel.
type ChannelObserver interface {
	// ChannelCall: a call of the OpenAPI method ended with outcome (one of
	// ChannelOutcomes) after d, retries included.
	ChannelCall(method, outcome string, d time.Duration)
}

// The outcomes of a channel call, as an operator reads them.
const (
	CallSuccess = "success" // a final answer: created, paid, closed, refunded, …
	CallPaying  = "paying"  // the buyer is still to pay or confirm (10003, WAIT_BUYER_PAY)
	CallFailed  = "failed"  // a definite business refusal
	CallUnknown = "unknown" // no clear answer (20000, a timeout, an answer that does not verify): settled by query
	CallError   = "error"   // not answered: transport failure, configuration error, or refused by the open breaker
)

// ChannelOutcomes lists every call outcome, and ChannelMethods every method
// the use cases call, for metrics to start at zero.
var (
	ChannelOutcomes = []string{CallSuccess, CallPaying, CallFailed, CallUnknown, CallError}
	ChannelMethods  = channelMethods()
)

// channelMethods is every method name of every channel's verbs.
func channelMethods() []string {
	var names []string
	for _, ch := range []Channel{&AlipayChannel{}, &WechatChannel{}} {
		for _, op := range Ops {
			names = append(names, ch.Method(op))
		}
	}
	return names
}

// ObserveChannel wraps ch so that every call is reported to obs with its
// outcome and duration. Wrapped around a ResilientChannel, a call is what
// the use case sees: its retries inside, its refusals by the breaker as
// errors.
func ObserveChannel(ch Channel, obs ChannelObserver) Channel {
	return &observedChannel{inner: ch, obs: obs, now: time.Now}
}

type observedChannel struct {
	inner Channel
	obs   ChannelObserver
	now   func() time.Time
}

// observe reports one call: outcome is err's, unless the call succeeded
// and paying says the trade still waits for the buyer.
func observe[T any](c *observedChannel, op Op, call func() (*T, error), paying func(*T) bool) (*T, error) {
	start := c.now()
	resp, err := call()
	outcome := CallOutcome(err)
	if err == nil && resp != nil && paying != nil && paying(resp) {
		outcome = CallPaying
	}
	c.obs.ChannelCall(c.inner.Method(op), outcome, c.now().Sub(start))
	return resp, err
}

// CallOutcome classifies a channel call's error (nil is success).
func CallOutcome(err error) string {
	if err == nil {
		return CallSuccess
	}
	if errors.Is(err, ErrNotSent) {
		return CallError
	}
	var e *ChannelError
	switch OutcomeOf(err) {
	case OutcomeSuccess:
		return CallSuccess
	case OutcomePaying:
		return CallPaying
	case OutcomeFailed:
		return CallFailed
	case OutcomeConfig:
		return CallError
	}
	// Unknown: no answer read at all is a transport failure, unless it is
	// the deadline passing, which leaves the outcome to a query.
	if errors.As(err, &e) && !e.Answered && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return CallError
	}
	return CallUnknown
}

func (c *observedChannel) Name() string        { return c.inner.Name() }
func (c *observedChannel) Account() string     { return c.inner.Account() }
func (c *observedChannel) Method(op Op) string { return c.inner.Method(op) }

func (c *observedChannel) Precreate(ctx context.Context, req PrecreateRequest) (*Precreated, error) {
	return observe(c, OpPrecreate, func() (*Precreated, error) { return c.inner.Precreate(ctx, req) }, nil)
}

func (c *observedChannel) Pay(ctx context.Context, req PayRequest) (*Trade, error) {
	return observe(c, OpPay, func() (*Trade, error) { return c.inner.Pay(ctx, req) },
		func(t *Trade) bool { return t.State == TradeWaiting })
}

func (c *observedChannel) Query(ctx context.Context, channelNo string) (*Trade, error) {
	return observe(c, OpQuery, func() (*Trade, error) { return c.inner.Query(ctx, channelNo) },
		func(t *Trade) bool { return t.State == TradeWaiting })
}

func (c *observedChannel) Cancel(ctx context.Context, channelNo string) (*Cancellation, error) {
	return observe(c, OpCancel, func() (*Cancellation, error) { return c.inner.Cancel(ctx, channelNo) }, nil)
}

func (c *observedChannel) Close(ctx context.Context, channelNo string) error {
	_, err := observe(c, OpClose, func() (*struct{}, error) { return &struct{}{}, c.inner.Close(ctx, channelNo) }, nil)
	return err
}

func (c *observedChannel) Refund(ctx context.Context, req RefundRequest) (*RefundResult, error) {
	return observe(c, OpRefund, func() (*RefundResult, error) { return c.inner.Refund(ctx, req) }, nil)
}

func (c *observedChannel) RefundQuery(ctx context.Context, ref RefundRef) (*RefundResult, error) {
	return observe(c, OpRefundQuery, func() (*RefundResult, error) { return c.inner.RefundQuery(ctx, ref) }, nil)
}

// ParseNotification is local work: not a call, not reported.
func (c *observedChannel) ParseNotification(in NotificationInput) (*Notification, error) {
	return c.inner.ParseNotification(in)
}

// BreakerStates maps a ResilientChannel's State to the number
// paygate_channel_breaker_state shows: 0 closed, 1 half-open, 2 open.
var BreakerStates = map[string]float64{"closed": 0, "half-open": 1, "open": 2}
