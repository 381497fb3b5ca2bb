package gateway

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
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

// ch is the channel for calls made about o.
func (s *Service) ch(o *paygate.Order) orderChannel {
	return orderChannel{inner: s.cfg.Channel, rec: s.cfg.Activity, order: o.ID, now: s.cfg.Now}
}

// record reports one call: its outcome is err's (or paying, when the answer
// says the buyer has yet to act), its code the answer's, its detail what
// an operator wants to read beside them.
func (c orderChannel) record(method string, start time.Time, res *alipay.Result, err error, paying bool, detail string) {
	a := paygate.OrderActivity{OrderID: c.order, At: start.UTC(), Kind: paygate.ActivityChannelCall, Name: method,
		Outcome: activityOutcome(err), Latency: c.now().Sub(start)}
	switch {
	case err != nil:
		a.Code, a.Detail = errCode(err), errDetail(err)
	case res != nil:
		a.Code, a.Detail = resultCode(res.Code, res.SubCode), detail
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
	switch alipay.OutcomeOf(err) {
	case alipay.OutcomeSuccess:
		return paygate.ActivitySuccess
	case alipay.OutcomePaying:
		return paygate.ActivityPaying
	case alipay.OutcomeFailed, alipay.OutcomeConfig:
		return paygate.ActivityFailed
	}
	return paygate.ActivityUnknown
}

func resultCode(code, subCode string) string {
	if subCode != "" {
		return code + "/" + subCode
	}
	return code
}

// errCode is the code and sub_code of an answer whose signature verified;
// an answer that did not verify says nothing to trust.
func errCode(err error) string {
	var e *alipay.Error
	if errors.As(err, &e) && e.Err == nil {
		return resultCode(e.Code, e.SubCode)
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
	var e *alipay.Error
	if !errors.As(err, &e) {
		return paygate.ActivityDetail(err.Error())
	}
	switch {
	case e.Err == nil && e.SubMsg != "":
		return paygate.ActivityDetail(e.SubMsg)
	case e.Err == nil:
		return paygate.ActivityDetail(e.Msg)
	case errors.Is(e.Err, context.DeadlineExceeded):
		return "no answer within the deadline"
	case errors.Is(e.Err, context.Canceled):
		return "cancelled before the answer came"
	}
	cause := e.Err
	var ue *url.Error
	if errors.As(cause, &ue) {
		cause = ue.Err
	}
	return paygate.ActivityDetail(cause.Error())
}

// Precreate is Channel.Precreate, reported.
func (c orderChannel) Precreate(ctx context.Context, req alipay.PrecreateRequest) (*alipay.PrecreateResponse, error) {
	if c.rec == nil {
		return c.inner.Precreate(ctx, req)
	}
	start := c.now()
	resp, err := c.inner.Precreate(ctx, req)
	c.record(alipay.MethodPrecreate, start, resultOf(resp, func(r *alipay.PrecreateResponse) *alipay.Result { return &r.Result }), err, false, "")
	return resp, err
}

// Pay is Channel.Pay, reported; 10003 is paying.
func (c orderChannel) Pay(ctx context.Context, req alipay.PayRequest) (*alipay.PayResponse, error) {
	if c.rec == nil {
		return c.inner.Pay(ctx, req)
	}
	start := c.now()
	resp, err := c.inner.Pay(ctx, req)
	paying := err == nil && resp != nil && resp.Outcome() == alipay.OutcomePaying
	detail := ""
	if paying {
		detail = "waiting for the buyer to confirm"
	}
	c.record(alipay.MethodPay, start, resultOf(resp, func(r *alipay.PayResponse) *alipay.Result { return &r.Result }), err, paying, detail)
	return resp, err
}

// Query is Channel.Query, reported with the trade status it found;
// WAIT_BUYER_PAY is paying.
func (c orderChannel) Query(ctx context.Context, ref alipay.TradeRef) (*alipay.QueryResponse, error) {
	if c.rec == nil {
		return c.inner.Query(ctx, ref)
	}
	start := c.now()
	resp, err := c.inner.Query(ctx, ref)
	var status string
	if resp != nil {
		status = resp.TradeStatus
	}
	c.record(alipay.MethodQuery, start, resultOf(resp, func(r *alipay.QueryResponse) *alipay.Result { return &r.Result }), err,
		status == alipay.TradeWaitBuyerPay, status)
	return resp, err
}

// Cancel is Channel.Cancel, reported with the action taken and whether
// Alipay asks for a repeat.
func (c orderChannel) Cancel(ctx context.Context, ref alipay.TradeRef) (*alipay.CancelResponse, error) {
	if c.rec == nil {
		return c.inner.Cancel(ctx, ref)
	}
	start := c.now()
	resp, err := c.inner.Cancel(ctx, ref)
	var detail []string
	if resp != nil && resp.Action != "" {
		detail = append(detail, "action "+resp.Action)
	}
	if resp != nil && resp.Retry() {
		detail = append(detail, "retry_flag Y")
	}
	c.record(alipay.MethodCancel, start, resultOf(resp, func(r *alipay.CancelResponse) *alipay.Result { return &r.Result }), err,
		false, strings.Join(detail, ", "))
	return resp, err
}

// Close is Channel.Close, reported.
func (c orderChannel) Close(ctx context.Context, req alipay.CloseRequest) (*alipay.CloseResponse, error) {
	if c.rec == nil {
		return c.inner.Close(ctx, req)
	}
	start := c.now()
	resp, err := c.inner.Close(ctx, req)
	c.record(alipay.MethodClose, start, resultOf(resp, func(r *alipay.CloseResponse) *alipay.Result { return &r.Result }), err, false, "")
	return resp, err
}

// Refund is Channel.Refund, reported with the refund's number and amount.
func (c orderChannel) Refund(ctx context.Context, req alipay.RefundRequest) (*alipay.RefundResponse, error) {
	if c.rec == nil {
		return c.inner.Refund(ctx, req)
	}
	start := c.now()
	resp, err := c.inner.Refund(ctx, req)
	detail := "out_request_no " + req.OutRequestNo + ", " + req.RefundAmount.Yuan()
	if err == nil && resp != nil && resp.FundChange != "" {
		detail += ", fund_change " + resp.FundChange
	}
	c.record(alipay.MethodRefund, start, resultOf(resp, func(r *alipay.RefundResponse) *alipay.Result { return &r.Result }), err, false, detail)
	return resp, err
}

// RefundQuery is Channel.RefundQuery, reported with the refund's status.
func (c orderChannel) RefundQuery(ctx context.Context, req alipay.RefundQueryRequest) (*alipay.RefundQueryResponse, error) {
	if c.rec == nil {
		return c.inner.RefundQuery(ctx, req)
	}
	start := c.now()
	resp, err := c.inner.RefundQuery(ctx, req)
	detail := "out_request_no " + req.OutRequestNo
	if err == nil && resp != nil {
		status := resp.RefundStatus
		if status == "" {
			status = "no refund status" // Alipay's word for a refund it does not have (yet)
		}
		detail += ", " + status
	}
	c.record(alipay.MethodRefundQuery, start, resultOf(resp, func(r *alipay.RefundQueryResponse) *alipay.Result { return &r.Result }), err, false, detail)
	return resp, err
}

// resultOf is the common head of a response, nil when there is none.
func resultOf[T any](resp *T, head func(*T) *alipay.Result) *alipay.Result {
	if resp == nil {
		return nil
	}
	return head(resp)
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
