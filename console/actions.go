package console

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/paygate/paygate"
)

// The order page's money actions, for admins (router.Post checks the role,
// the origin and the CSRF token). Each is recorded in operator_actions
// twice: the intent before it runs (if that cannot be written, nothing
// runs) and its outcome after. The operator is then sent back to the
// order's page with the outcome in plain words.

// act records the intent, runs fn, records the outcome and returns the
// flash to show: fn's success sentence, or the error's message.
func (c *Console) act(ctx context.Context, s *Session, o *paygate.Order, action, target, detail string,
	fn func() (string, error)) (kind, text string) {
	intent := &paygate.OperatorAction{Operator: s.Username, Action: action, OrderID: o.ID, MerchantID: o.MerchantID,
		Target: target, Detail: detail, Outcome: paygate.OutcomeRequested}
	if err := c.store.RecordOperatorAction(ctx, intent); err != nil {
		c.log.ErrorContext(ctx, "console: cannot record an action's intent; not running it", "action", action, "err", err)
		return "error", "Nothing was done: the action could not be recorded first (" + paygate.ErrorMessage(err) + "). Try again."
	}
	c.log.InfoContext(ctx, "console: action", "operator", s.Username, "action", action, "order_id", o.ID, "target", target)
	done, err := fn()
	outcome := paygate.OutcomeSucceeded
	text = done
	switch code := paygate.ErrorCode(err); {
	case err == nil:
	case code == paygate.EChannel:
		outcome = paygate.OutcomeUnclear
		text = "Alipay's answer was unclear: " + paygate.ErrorMessage(err) +
			". Nothing is lost: the gateway settles it by querying Alipay; refresh the page in a minute."
	case code == paygate.EInternal:
		outcome = paygate.OutcomeFailed
		text = "It failed on an internal error (see the node's log)."
		c.log.ErrorContext(ctx, "console: action failed", "action", action, "order_id", o.ID, "err", err)
	default:
		outcome = paygate.OutcomeFailed
		text = "Refused: " + paygate.ErrorMessage(err)
	}
	result := &paygate.OperatorAction{Operator: s.Username, Action: action, OrderID: o.ID, MerchantID: o.MerchantID,
		Target: target, Detail: text, Outcome: outcome}
	// The outcome is recorded even if the operator's request was cancelled.
	if rerr := c.store.RecordOperatorAction(context.WithoutCancel(ctx), result); rerr != nil {
		c.log.ErrorContext(ctx, "console: cannot record an action's outcome", "action", action, "outcome", outcome, "err", rerr)
	}
	if outcome == paygate.OutcomeSucceeded {
		return "ok", text
	}
	return "error", text
}

// finish sends the operator back to the order's page with the outcome.
func (c *Console) finish(w http.ResponseWriter, r *http.Request, s *Session, o *paygate.Order, kind, text string) {
	c.setFlash(w, s, kind, text)
	http.Redirect(w, r, orderURL(o), http.StatusSeeOther)
}

// orderAndMerchant reads the order of the path and its merchant, whose
// scope the gateway's calls take.
func (c *Console) orderAndMerchant(r *http.Request) (*paygate.Order, *paygate.Merchant, error) {
	o, err := c.orderByPath(r)
	if err != nil {
		return nil, nil, err
	}
	m, err := c.store.MerchantByID(r.Context(), o.MerchantID)
	if err != nil {
		return nil, nil, err
	}
	return o, m, nil
}

// refreshOrder asks Alipay for the order's state and applies it.
func (c *Console) refreshOrder(w http.ResponseWriter, r *http.Request, s *Session) error {
	o, m, err := c.orderAndMerchant(r)
	if err != nil {
		return err
	}
	kind, text := c.act(r.Context(), s, o, paygate.ActionRefresh, o.OutTradeNo, "query Alipay", func() (string, error) {
		got, err := c.cfg.Orders.GetOrder(r.Context(), m, o.OutTradeNo, true)
		if err != nil {
			return "", err
		}
		return "Refreshed from Alipay: the order is " + string(got.Status) + ".", nil
	})
	c.finish(w, r, s, o, kind, text)
	return nil
}

// closeOrder closes a pending order at Alipay, then here.
func (c *Console) closeOrder(w http.ResponseWriter, r *http.Request, s *Session) error {
	o, m, err := c.orderAndMerchant(r)
	if err != nil {
		return err
	}
	kind, text := c.act(r.Context(), s, o, paygate.ActionClose, o.OutTradeNo, "close at Alipay", func() (string, error) {
		got, err := c.cfg.Orders.CloseOrder(r.Context(), m, o.OutTradeNo)
		if err != nil {
			return "", err
		}
		return "The order is " + string(got.Status) + ".", nil
	})
	c.finish(w, r, s, o, kind, text)
	return nil
}

// refundOrder is the refund form's two steps: without confirm=yes it checks
// the form and shows the confirmation (same out_request_no); with it, it
// refunds. A repeated submission with the same out_request_no finds the
// refund already made and makes no other.
func (c *Console) refundOrder(w http.ResponseWriter, r *http.Request, s *Session) error {
	o, m, err := c.orderAndMerchant(r)
	if err != nil {
		return err
	}
	f := refundForm{OutRequestNo: r.PostFormValue("out_request_no"), Amount: strings.TrimSpace(r.PostFormValue("amount")),
		Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	req, ferr := parseRefund(f)
	if ferr != nil || r.PostFormValue("confirm") != "yes" {
		v, err := c.orderView(r.Context(), o)
		if err != nil {
			return err
		}
		status := http.StatusOK
		if ferr != nil {
			f.Error, status = paygate.ErrorMessage(ferr), http.StatusBadRequest
			if len(f.OutRequestNo) == 0 || len(f.OutRequestNo) > 64 {
				f.OutRequestNo = newRequestNo()
			}
		}
		v.Refund, v.Confirm = f, ferr == nil
		c.render(w, r, s, status, "order", v)
		return nil
	}
	detail := req.Amount.Yuan() + " CNY"
	if req.Reason != "" {
		detail += " · " + req.Reason
	}
	kind, text := c.act(r.Context(), s, o, paygate.ActionRefund, req.OutRequestNo, detail, func() (string, error) {
		rf, created, err := c.cfg.Orders.Refund(r.Context(), m, o.OutTradeNo, req)
		if err != nil {
			return "", err
		}
		again := ""
		if !created {
			again = " (this form was already submitted: the same refund, not a second one)"
		}
		switch rf.Status {
		case paygate.RefundSucceeded:
			return "Refunded " + rf.Amount.Yuan() + " CNY" + again + ".", nil
		case paygate.RefundFailed:
			return "", paygate.Errorf(paygate.EPaymentFailed, "the refund failed: %s", rf.FailReason)
		}
		return "", paygate.Errorf(paygate.EChannel, "the refund of %s CNY is pending%s", rf.Amount.Yuan(), again)
	})
	c.finish(w, r, s, o, kind, text)
	return nil
}

// parseRefund checks the refund form as the merchant API checks a refund.
func parseRefund(f refundForm) (paygate.CreateRefund, error) {
	var req paygate.CreateRefund
	if n := len(f.OutRequestNo); n == 0 || n > 64 || strings.Trim(f.OutRequestNo,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
		return req, paygate.Errorf(paygate.EInvalid, "the form's out_request_no is not valid; reload the page")
	}
	amount, err := paygate.ParseYuan(f.Amount)
	if err != nil {
		return req, paygate.Errorf(paygate.EInvalid, "the amount must be yuan with at most two decimals, like 12.50")
	}
	if !utf8.ValidString(f.Reason) || utf8.RuneCountInString(f.Reason) > 256 || strings.IndexFunc(f.Reason, unicode.IsControl) >= 0 {
		return req, paygate.Errorf(paygate.EInvalid, "the reason must be at most 256 characters, without control characters")
	}
	return paygate.CreateRefund{OutRequestNo: f.OutRequestNo, Amount: amount, Reason: f.Reason}, nil
}

// resendEvent delivers one of the order's webhook events again.
func (c *Console) resendEvent(w http.ResponseWriter, r *http.Request, s *Session) error {
	o, err := c.orderByPath(r)
	if err != nil {
		return err
	}
	id := r.PathValue("event")
	e, err := c.store.EventByID(r.Context(), id)
	if err != nil || e.OrderID != o.ID {
		return paygate.Errorf(paygate.ENotFound, "this order has no event %s", id)
	}
	kind, text := c.act(r.Context(), s, o, paygate.ActionResend, e.ID, e.Type, func() (string, error) {
		got, err := c.cfg.Events.ResendEvent(r.Context(), o.MerchantID, e.ID)
		if err != nil {
			return "", err
		}
		return "Event " + got.ID + " is queued for delivery again (attempts so far: " + strconv.Itoa(got.Attempts) + ").", nil
	})
	c.finish(w, r, s, o, kind, text)
	return nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
