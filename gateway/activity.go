package gateway

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/paygate/paygate"
)

// ActivityRecorder receives the order activities the use cases report:
// every channel call made for an order and every notification that names
// one. Record must not block: it is on the payment's path. *ActivityLog
// implements it.
type ActivityRecorder interface {
	Record(a paygate.OrderActivity)
}

// orderChannel is the channel as the use cases call it for one order: each
// call is reported to the recorder with its outcome, code and latency
// (retries included: it wraps whatever Config.Channel is). Without a
// recorder it is the channel itself, at no cost.
type orderChannel struct {
	inner Channel
	rec   ActivityRecorder
	order int64
	now   func() time.Time
}

// ch is the channel for calls made about o: the one it is taken on.
func (s *Service) ch(o *paygate.Order) orderChannel {
	return s.chNamed(o, o.Channel)
}

// chNamed is the channel name for calls made about o (an auto order has
// a trade on each); one not configured on this node answers every call
// with a configuration error.
func (s *Service) chNamed(o *paygate.Order, name paygate.Channel) orderChannel {
	inner := s.channelOf(name)
	if inner == nil {
		inner = missingChannel(name)
	}
	return orderChannel{inner: inner, rec: s.cfg.Activity, order: o.ID, now: s.cfg.Now}
}

// record reports one call of op: its outcome is err's (or paying, when the
// answer says the buyer has yet to act), its code the refusal's, its
// detail what an operator wants to read beside them.
func (c orderChannel) record(op Op, start time.Time, err error, paying bool, detail string) {
	a := paygate.OrderActivity{OrderID: c.order, At: start.UTC(), Kind: paygate.ActivityChannelCall, Name: c.inner.Method(op),
		Outcome: activityOutcome(err), Latency: c.now().Sub(start)}
	switch {
	case err != nil:
		a.Code, a.Detail = errCode(err), errDetail(err)
	default:
		a.Detail = detail
		if paying {
			a.Outcome = paygate.ActivityPaying
		}
	}
	c.rec.Record(a)
}

// activityOutcome classifies a call's error as the timeline shows it: a
// call never sent and a configuration error changed nothing (failed);
// anything unclear, transport failures included, is unknown.
func activityOutcome(err error) string {
	if err == nil {
		return paygate.ActivitySuccess
	}
	if errors.Is(err, ErrNotSent) {
		return paygate.ActivityFailed
	}
	switch OutcomeOf(err) {
	case OutcomeSuccess:
		return paygate.ActivitySuccess
	case OutcomePaying:
		return paygate.ActivityPaying
	case OutcomeFailed, OutcomeConfig:
		return paygate.ActivityFailed
	}
	return paygate.ActivityUnknown
}

// errCode is the code and sub_code of an answer whose signature verified;
// an answer that did not verify says nothing to trust.
func errCode(err error) string {
	var e *ChannelError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// errDetail says why a call did not succeed, in a short line: Alipay's own
// message, or what kept the answer from coming or from being trusted. A
// transport error is cut from its URL (net/http puts it first).
func errDetail(err error) string {
	if errors.Is(err, ErrNotSent) {
		return "not sent: the channel's circuit is open"
	}
	var e *ChannelError
	if !errors.As(err, &e) {
		return paygate.ActivityDetail(err.Error())
	}
	switch {
	case e.Code != "":
		return paygate.ActivityDetail(e.Message)
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer within the deadline"
	case errors.Is(err, context.Canceled):
		return "cancelled before the answer came"
	}
	cause := channelCause(e.Err)
	var ue *url.Error
	if errors.As(cause, &ue) {
		cause = ue.Err
	}
	return paygate.ActivityDetail(cause.Error())
}

// Precreate is Channel.Precreate, reported.
func (c orderChannel) Precreate(ctx context.Context, req PrecreateRequest) (*Precreated, error) {
	if c.rec == nil {
		return c.inner.Precreate(ctx, req)
	}
	start := c.now()
	resp, err := c.inner.Precreate(ctx, req)
	c.record(OpPrecreate, start, err, false, "")
	return resp, err
}

// Pay is Channel.Pay, reported; a trade still waiting is paying.
func (c orderChannel) Pay(ctx context.Context, req PayRequest) (*Trade, error) {
	if c.rec == nil {
		return c.inner.Pay(ctx, req)
	}
	start := c.now()
	resp, err := c.inner.Pay(ctx, req)
	paying := err == nil && resp.State == TradeWaiting
	detail := ""
	if paying {
		detail = "waiting for the buyer to confirm"
	}
	c.record(OpPay, start, err, paying, detail)
	return resp, err
}

// Query is Channel.Query, reported with the trade status it found; a
// trade still waiting is paying.
func (c orderChannel) Query(ctx context.Context, channelNo string) (*Trade, error) {
	if c.rec == nil {
		return c.inner.Query(ctx, channelNo)
	}
	start := c.now()
	resp, err := c.inner.Query(ctx, channelNo)
	c.record(OpQuery, start, err, err == nil && resp.State == TradeWaiting, resp.Status)
	return resp, err
}

// Cancel is Channel.Cancel, reported with what it did and whether the
// channel asks for a repeat.
func (c orderChannel) Cancel(ctx context.Context, channelNo string) (*Cancellation, error) {
	if c.rec == nil {
		return c.inner.Cancel(ctx, channelNo)
	}
	start := c.now()
	resp, err := c.inner.Cancel(ctx, channelNo)
	var detail []string
	if err == nil && resp.Refunded {
		detail = append(detail, "a payment, if any, refunded")
	}
	if retryAsked(err) {
		detail = append(detail, "the channel asks for the cancel again")
	}
	c.record(OpCancel, start, err, false, strings.Join(detail, ", "))
	return resp, err
}

// Close is Channel.Close, reported.
func (c orderChannel) Close(ctx context.Context, channelNo string) error {
	if c.rec == nil {
		return c.inner.Close(ctx, channelNo)
	}
	start := c.now()
	err := c.inner.Close(ctx, channelNo)
	c.record(OpClose, start, err, false, "")
	return err
}

// Refund is Channel.Refund, reported with the refund's number and amount.
func (c orderChannel) Refund(ctx context.Context, req RefundRequest) (*RefundResult, error) {
	if c.rec == nil {
		return c.inner.Refund(ctx, req)
	}
	start := c.now()
	resp, err := c.inner.Refund(ctx, req)
	detail := "out_request_no " + req.OutRequestNo + ", " + req.Amount.Yuan()
	if err == nil && resp.Status != "" {
		detail += ", " + resp.Status
	}
	c.record(OpRefund, start, err, false, detail)
	return resp, err
}

// RefundQuery is Channel.RefundQuery, reported with the refund's status.
func (c orderChannel) RefundQuery(ctx context.Context, ref RefundRef) (*RefundResult, error) {
	if c.rec == nil {
		return c.inner.RefundQuery(ctx, ref)
	}
	start := c.now()
	resp, err := c.inner.RefundQuery(ctx, ref)
	detail := "out_request_no " + ref.OutRequestNo
	if err == nil {
		status := resp.Status
		if status == "" {
			status = "no refund status" // Alipay's word for a refund it does not have (yet)
		}
		detail += ", " + status
	}
	c.record(OpRefundQuery, start, err, false, detail)
	return resp, err
}

// notified is what HandleNotification learnt of a notification once it
// found its order: enough to report it.
type notified struct {
	at          time.Time
	orderID     int64
	tradeStatus string
	notifyID    string
	outBizNo    string
}

// recordNotification reports a notification that named a known order,
// with how it ended (result, one of NotifyResults) and why.
func (s *Service) recordNotification(n *notified, result string, err error) {
	if s.cfg.Activity == nil || n.orderID == 0 {
		return
	}
	a := paygate.OrderActivity{OrderID: n.orderID, At: n.at, Kind: paygate.ActivityNotification, Name: n.tradeStatus}
	var detail []string
	if n.notifyID != "" {
		detail = append(detail, "notify_id "+n.notifyID)
	}
	if n.outBizNo != "" {
		detail = append(detail, "refund "+n.outBizNo)
	}
	switch result {
	case NotifyApplied:
		a.Outcome = paygate.ActivityApplied
	case NotifyDuplicate:
		a.Outcome = paygate.ActivityDuplicate
	case NotifyRefusedMismatch, NotifyRefusedSignature:
		a.Outcome = paygate.ActivityRejected
		detail = append(detail, err.Error())
	case NotifyDeferred:
		a.Outcome = paygate.ActivityIgnored
		detail = append(detail, "deferred: "+err.Error())
	default:
		a.Outcome = paygate.ActivityIgnored
		detail = append(detail, "not applied now, Alipay sends it again: "+err.Error())
	}
	a.Detail = paygate.ActivityDetail(strings.Join(detail, "; "))
	s.cfg.Activity.Record(a)
}
