package console

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paygate/paygate"
)

// entry is one line of an order's timeline.
type entry struct {
	At      time.Time
	Kind    string // order, refund, event, webhook, operator, activity: the marker's style
	What    string
	Detail  string
	Excerpt string // a response body's first bytes, shown as code
	Status  string // a badge: paid, failed, succeeded...
	// sortAt, when set, places the entry instead of At: Alipay's payment
	// time has whole seconds only, and a payment must not be listed before
	// the order it pays.
	sortAt time.Time
}

// key is where the entry sorts.
func (e entry) key() time.Time {
	if e.sortAt.IsZero() {
		return e.At
	}
	return e.sortAt
}

// orderData is an order and what its page reads about it once; timeline
// sources read it, and may read more.
type orderData struct {
	Order    *paygate.Order
	Merchant *paygate.Merchant
	Refunds  []*paygate.Refund
	Events   []*paygate.Event
	Attempts map[string][]*paygate.WebhookAttempt // by event ID
	Actions  []*paygate.OperatorAction
}

// timelineSource turns one kind of record into timeline entries. A new
// kind of record (the channel calls and notifications of an order's
// activity) is one more source in timelineSources.
type timelineSource func(ctx context.Context, d *orderData) ([]entry, error)

// timelineSources are every source of an order's timeline.
func (c *Console) timelineSources() []timelineSource {
	return []timelineSource{orderEntries, refundEntries, eventEntries, actionEntries, c.activityEntries}
}

// timeline merges every source's entries, oldest first; entries at the
// same time keep their sources' order.
func (c *Console) timeline(ctx context.Context, d *orderData) ([]entry, error) {
	var all []entry
	for _, src := range c.timelineSources() {
		es, err := src(ctx, d)
		if err != nil {
			return nil, err
		}
		all = append(all, es...)
	}
	slices.SortStableFunc(all, func(a, b entry) int { return a.key().Compare(b.key()) })
	return all, nil
}

// orderEntries are the order's own state changes.
func orderEntries(_ context.Context, d *orderData) ([]entry, error) {
	o := d.Order
	es := []entry{{At: o.CreatedAt, Kind: "order", What: "Created",
		Detail: fmt.Sprintf("%s order of %s CNY by %s", o.Mode, o.TotalAmount.Yuan(), d.Merchant.Name), Status: "pending"}}
	if !o.CancelRequestedAt.IsZero() {
		es = append(es, entry{At: o.CancelRequestedAt, Kind: "order", What: "Cancel requested",
			Detail: "the gateway asked the channel to cancel the trade; the order can only end closed"})
	}
	if !o.PaidAt.IsZero() {
		detail := "trade " + o.TradeNo
		if o.BuyerID != "" {
			detail += ", buyer " + o.BuyerID
		}
		es = append(es, entry{At: o.PaidAt, Kind: "order", What: "Paid", Detail: detail, Status: "paid",
			sortAt: later(o.PaidAt, recordedAt(d, paygate.EventOrderPaid, o.CreatedAt))})
	}
	if !o.ClosedAt.IsZero() {
		es = append(es, entry{At: o.ClosedAt, Kind: "order", What: "Closed", Status: "closed",
			sortAt: later(o.ClosedAt, recordedAt(d, paygate.EventOrderClosed, o.CreatedAt))})
	}
	return es, nil
}

// recordedAt is when the order's first event of type typ was written (in
// the transaction that made the change it tells of), or else if there is
// none: a change sorts where paygate learnt of it, after the call or the
// notification that told it, and just before its event (sources keep
// their order at equal times).
func recordedAt(d *orderData, typ string, otherwise time.Time) time.Time {
	for _, e := range d.Events {
		if e.Type == typ {
			return e.CreatedAt
		}
	}
	return otherwise
}

// refundEntries are each refund asked for, and how it ended.
func refundEntries(_ context.Context, d *orderData) ([]entry, error) {
	var es []entry
	for _, r := range d.Refunds {
		detail := r.Amount.Yuan() + " CNY, out_request_no " + r.OutRequestNo
		if r.Reason != "" {
			detail += ", reason: " + r.Reason
		}
		es = append(es, entry{At: r.CreatedAt, Kind: "refund", What: "Refund requested", Detail: detail, Status: "pending"})
		switch r.Status {
		case paygate.RefundSucceeded:
			es = append(es, entry{At: r.SucceededAt, Kind: "refund", What: "Refund succeeded",
				Detail: r.Amount.Yuan() + " CNY, out_request_no " + r.OutRequestNo, Status: "succeeded"})
		case paygate.RefundFailed:
			es = append(es, entry{At: r.UpdatedAt, Kind: "refund", What: "Refund failed",
				Detail: r.OutRequestNo + ": " + r.FailReason, Status: "failed"})
		}
	}
	return es, nil
}

// eventEntries are each webhook event and every attempt to deliver it.
func eventEntries(_ context.Context, d *orderData) ([]entry, error) {
	var es []entry
	for _, e := range d.Events {
		es = append(es, entry{At: e.CreatedAt, Kind: "event", What: "Event " + e.Type, Detail: e.ID})
		for _, a := range d.Attempts[e.ID] {
			status, what := "failed", "Webhook attempt failed"
			if a.Success {
				status, what = "succeeded", "Webhook delivered"
			}
			code := "no response"
			if a.StatusCode != 0 {
				code = "HTTP " + strconv.Itoa(a.StatusCode)
			}
			url := a.URL
			if url == "" {
				url = "(no URL)"
			}
			es = append(es, entry{At: a.At, Kind: "webhook", What: what,
				Detail:  fmt.Sprintf("%s · %s · %d ms · %s", e.ID, code, a.Latency.Milliseconds(), url),
				Excerpt: a.Excerpt, Status: status})
		}
		if !e.DeadAt.IsZero() {
			es = append(es, entry{At: e.DeadAt, Kind: "webhook", What: "Webhook dead-lettered",
				Detail: e.ID + ": delivery gave up; an admin may re-send it", Status: "dead"})
		}
	}
	return es, nil
}

// actionEntries are the operators' actions on the order.
func actionEntries(_ context.Context, d *orderData) ([]entry, error) {
	var es []entry
	for _, a := range d.Actions {
		what := a.Operator + ": " + actionLabel(a.Action)
		if a.Outcome == paygate.OutcomeRequested {
			what += " (requested)"
		}
		detail := a.Detail
		if a.Target != "" {
			detail = a.Target + " · " + detail
		}
		es = append(es, entry{At: a.At, Kind: "operator", What: what, Detail: detail, Status: a.Outcome})
	}
	return es, nil
}

// activityEntries are the order's activity: each call made to the channel
// for it, with its outcome, code and latency, and each notification the
// channel sent about it, with how it ended.
func (c *Console) activityEntries(ctx context.Context, d *orderData) ([]entry, error) {
	acts, err := c.store.ActivitiesByOrder(ctx, d.Order.ID)
	if err != nil {
		return nil, fmt.Errorf("order activity: %w", err)
	}
	es := make([]entry, 0, len(acts))
	for _, a := range acts {
		e := entry{At: a.At, Kind: "activity", Status: a.Outcome}
		var parts []string
		switch a.Kind {
		case paygate.ActivityNotification:
			e.What = "Notification " + a.Name
		default:
			e.What = "Call " + a.Name
			parts = append(parts, strconv.FormatInt(a.Latency.Milliseconds(), 10)+" ms")
		}
		if a.Code != "" {
			parts = append(parts, "code "+a.Code)
		}
		if a.Detail != "" {
			parts = append(parts, a.Detail)
		}
		e.Detail = strings.Join(parts, " · ")
		es = append(es, e)
	}
	return es, nil
}

// actionLabel names an action for people.
func actionLabel(action string) string {
	switch action {
	case paygate.ActionRefresh:
		return "refresh from Alipay"
	case paygate.ActionClose:
		return "close"
	case paygate.ActionRefund:
		return "refund"
	case paygate.ActionResend:
		return "re-send webhook"
	case paygate.ActionMerchantCreate:
		return "create merchant"
	case paygate.ActionMerchantRotate:
		return "rotate secrets"
	case paygate.ActionMerchantDisable:
		return "disable merchant"
	case paygate.ActionMerchantEnable:
		return "enable merchant"
	case paygate.ActionMerchantURL:
		return "set webhook URL"
	}
	return action
}

// later is the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
