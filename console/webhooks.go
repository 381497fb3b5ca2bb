package console

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paygate/paygate"
)

// webhooksPage is the webhook backlog and dead letters across merchants,
// each event's page with its attempts, and the admins' re-send.
func (c *Console) webhooksPage() page {
	return page{Nav: "Webhooks", Path: "/dashboard/webhooks", Routes: func(r *router) {
		r.Get("/dashboard/webhooks", c.webhooks)
		r.Get("/dashboard/webhooks/{id}", c.webhookEvent)
		r.Post("/dashboard/webhooks/{id}/resend", c.resendWebhook)
	}}
}

// eventsPageSize is how many events a page of the list shows.
const eventsPageSize = 50

// The two lists of the webhooks page.
const (
	viewBacklog = "backlog" // being delivered or waiting for a retry
	viewDead    = "dead"    // dead-lettered
)

// webhooksView is the list's data.
type webhooksView struct {
	View     string // viewBacklog or viewDead
	Form     eventForm
	Types    []string
	Error    string
	Rows     []eventRow
	Next     string
	First    string
	Searched bool
	// Backlog and Dead count every merchant's events (the tabs); -1 when
	// the node does not say (Health.Webhooks not wired or failing).
	Backlog, Dead int64
}

// eventForm is the list's filter as typed.
type eventForm struct {
	Merchant, Type string
}

// eventRow is a listed event with its merchant's name and its last
// attempt (nil before the first).
type eventRow struct {
	Event    *paygate.Event
	Merchant string
	Last     *paygate.WebhookAttempt
}

// webhooks lists the backlog or the dead letters, newest first, filtered
// by merchant and type, paged.
func (c *Console) webhooks(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	q := r.URL.Query()
	v := webhooksView{View: viewBacklog, Form: eventForm{Merchant: strings.TrimSpace(q.Get("merchant")), Type: q.Get("type")},
		Types: paygate.EventTypes(), Backlog: -1, Dead: -1}
	if q.Get("view") == viewDead {
		v.View = viewDead
	}
	v.Searched = v.Form != eventForm{}
	if h := c.cfg.Health.Webhooks; h != nil {
		if b, d, err := h(ctx); err == nil {
			v.Backlog, v.Dead = b, d
		}
	}
	f, err := c.eventFilter(ctx, v.View, v.Form, q.Get("before"))
	if err != nil {
		v.Error = paygate.ErrorMessage(err)
		c.render(w, r, s, statusOf(err), "webhooks", v)
		return nil
	}
	f.Limit = eventsPageSize + 1
	list, err := c.store.ListEvents(ctx, f)
	if err != nil {
		return err
	}
	page := func(before string) string {
		p := url.Values{}
		for k, vals := range q {
			if k != "before" {
				p[k] = vals
			}
		}
		if before != "" {
			p.Set("before", before)
		}
		return "?" + p.Encode()
	}
	if len(list) > eventsPageSize {
		list = list[:eventsPageSize]
		last := list[len(list)-1]
		v.Next = page(strconv.FormatInt(last.CreatedAt.UnixMicro(), 10) + "_" + last.ID)
	}
	if q.Get("before") != "" {
		v.First = page("")
	}
	names := c.merchantNames(ctx)
	for _, e := range list {
		attempts, err := c.store.WebhookAttempts(ctx, e.ID)
		if err != nil {
			return err
		}
		row := eventRow{Event: e, Merchant: names(e.MerchantID)}
		if len(attempts) > 0 {
			row.Last = attempts[len(attempts)-1]
		}
		v.Rows = append(v.Rows, row)
	}
	c.render(w, r, s, http.StatusOK, "webhooks", v)
	return nil
}

// eventFilter turns the list's form into a store filter, or an EInvalid
// error saying which field is wrong.
func (c *Console) eventFilter(ctx context.Context, view string, f eventForm, before string) (paygate.EventFilter, error) {
	ef := paygate.EventFilter{Delivery: paygate.DeliveryRetrying}
	if view == viewDead {
		ef.Delivery = paygate.DeliveryDead
	}
	if f.Type != "" {
		if !paygate.ValidEventType(f.Type) {
			return ef, paygate.Errorf(paygate.EInvalid, "type must be one of %s", strings.Join(paygate.EventTypes(), ", "))
		}
		ef.Type = f.Type
	}
	if f.Merchant != "" {
		id, err := c.merchantID(ctx, f.Merchant)
		if err != nil {
			return ef, err
		}
		ef.MerchantID = id
	}
	if before != "" {
		at, id, ok := strings.Cut(before, "_")
		micros, err := strconv.ParseInt(at, 10, 64)
		if !ok || err != nil || micros <= 0 || !strings.HasPrefix(id, "evt_") {
			return ef, paygate.Errorf(paygate.EInvalid, "the page cursor is not valid; start from the first page")
		}
		ef.BeforeCreatedAt, ef.BeforeID = time.UnixMicro(micros), id
	}
	return ef, nil
}

// eventView is an event's page.
type eventView struct {
	Event    *paygate.Event
	State    string // delivered, dead or retrying
	Merchant *paygate.Merchant
	Order    *paygate.Order
	URL      string // where it is delivered: the order's URL, else the merchant's; "" when neither has one
	Payload  string // the body, indented
	Attempts []*paygate.WebhookAttempt
	Actions  []*paygate.OperatorAction
}

// webhookEvent shows an event: its state, where it goes, its body, every
// attempt (newest first) and the operators' re-sends of it.
func (c *Console) webhookEvent(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	e, err := c.eventByPath(r)
	if err != nil {
		return err
	}
	v := &eventView{Event: e, State: eventState(e)}
	m, err := c.store.MerchantByID(ctx, e.MerchantID)
	if err != nil {
		return err
	}
	v.Merchant = withoutSecrets(m)
	if v.Order, err = c.store.OrderByID(ctx, e.OrderID); err != nil {
		return err
	}
	v.URL = v.Order.NotifyURL
	if v.URL == "" {
		v.URL = m.NotifyURL
	}
	var out bytes.Buffer
	if json.Indent(&out, e.Payload, "", "  ") == nil {
		v.Payload = out.String()
	} else {
		v.Payload = string(e.Payload)
	}
	if v.Attempts, err = c.store.WebhookAttempts(ctx, e.ID); err != nil {
		return err
	}
	slices.Reverse(v.Attempts)
	actions, err := c.store.OperatorActions(ctx, paygate.OperatorActionFilter{OrderID: e.OrderID, Limit: 500})
	if err != nil {
		return err
	}
	for _, a := range actions {
		if a.Target == e.ID {
			v.Actions = append(v.Actions, a)
		}
	}
	c.render(w, r, s, http.StatusOK, "event", v)
	return nil
}

// resendWebhook delivers an event again, whatever its state, with a full
// schedule of attempts.
func (c *Console) resendWebhook(w http.ResponseWriter, r *http.Request, s *Session) error {
	e, err := c.eventByPath(r)
	if err != nil {
		return err
	}
	a := &audit{Action: paygate.ActionResend, OrderID: e.OrderID, MerchantID: e.MerchantID, Target: e.ID, Detail: e.Type}
	kind, text := c.audited(r.Context(), s, a, func(*audit) (string, error) {
		got, err := c.cfg.Events.ResendEvent(r.Context(), e.MerchantID, e.ID)
		if err != nil {
			return "", err
		}
		return "Event " + got.ID + " is queued for delivery again (attempts so far: " + strconv.Itoa(got.Attempts) + ").", nil
	})
	c.setFlash(w, s, kind, text)
	http.Redirect(w, r, "/dashboard/webhooks/"+url.PathEscape(e.ID), http.StatusSeeOther)
	return nil
}

// eventByPath reads the event named by the {id} path value.
func (c *Console) eventByPath(r *http.Request) (*paygate.Event, error) {
	id := r.PathValue("id")
	e, err := c.store.EventByID(r.Context(), id)
	if paygate.ErrorCode(err) == paygate.ENotFound {
		return nil, paygate.Errorf(paygate.ENotFound, "no such event")
	}
	return e, err
}

// eventState is where an event's delivery stands.
func eventState(e *paygate.Event) string {
	switch {
	case !e.DeliveredAt.IsZero():
		return "delivered"
	case !e.DeadAt.IsZero():
		return "dead"
	}
	return "retrying"
}

// withoutSecrets is a copy of m that a page may hold: no secret in it.
func withoutSecrets(m *paygate.Merchant) *paygate.Merchant {
	c := *m
	c.SecretKey, c.WebhookSecret, c.PreviousSecretKey, c.PreviousWebhookSecret = "", "", "", ""
	return &c
}
