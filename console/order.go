package console

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"

	"github.com/paygate/paygate"
)

// orderView is an order's page.
type orderView struct {
	*orderData
	Timeline   []entry
	Refundable paygate.Money
	CanClose   bool
	CanRefund  bool
	Refund     refundForm
	Confirm    bool // the refund form is the confirmation step
}

// refundForm is the refund form as rendered: OutRequestNo is made when the
// form is first rendered and travels in a hidden field, the refund's
// idempotency key: however often the form is submitted, one refund.
type refundForm struct {
	OutRequestNo string
	Amount       string
	Reason       string
	Error        string
}

// order shows an order: its facts, its timeline, and (for admins) its
// actions.
func (c *Console) order(w http.ResponseWriter, r *http.Request, s *Session) error {
	o, err := c.orderByPath(r)
	if err != nil {
		return err
	}
	v, err := c.orderView(r.Context(), o)
	if err != nil {
		return err
	}
	v.Refund = refundForm{OutRequestNo: newRequestNo(), Amount: v.Refundable.Yuan()}
	c.render(w, r, s, http.StatusOK, "order", v)
	return nil
}

// orderView reads everything the order's page shows.
func (c *Console) orderView(ctx context.Context, o *paygate.Order) (*orderView, error) {
	d := &orderData{Order: o, Attempts: map[string][]*paygate.WebhookAttempt{}}
	var err error
	if d.Merchant, err = c.store.MerchantByID(ctx, o.MerchantID); err != nil {
		return nil, err
	}
	if d.Refunds, err = c.store.RefundsByOrder(ctx, o.ID); err != nil {
		return nil, err
	}
	if d.Events, err = c.store.EventsByOrder(ctx, o.ID); err != nil {
		return nil, err
	}
	for _, e := range d.Events {
		if d.Attempts[e.ID], err = c.store.WebhookAttempts(ctx, e.ID); err != nil {
			return nil, err
		}
	}
	if d.Actions, err = c.store.OperatorActions(ctx, paygate.OperatorActionFilter{OrderID: o.ID, Limit: 500}); err != nil {
		return nil, err
	}
	v := &orderView{orderData: d, CanClose: o.Status == paygate.StatusPending}
	// What a new refund may take: neither refunded nor reserved by a
	// pending refund (the gateway checks it again under the order's lock).
	v.Refundable = o.Refundable()
	for _, r := range d.Refunds {
		if r.Status == paygate.RefundPending {
			v.Refundable -= r.Amount
		}
	}
	v.CanRefund = v.Refundable > 0
	if v.Timeline, err = c.timeline(ctx, d); err != nil {
		return nil, err
	}
	slices.Reverse(v.Timeline) // newest first: what just happened is on top
	return v, nil
}

// newRequestNo is a refund's out_request_no made by the console: "op"
// and 128 random bits in hex, within Alipay's 64 characters.
func newRequestNo() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return "op" + hex.EncodeToString(b)
}

// orderURL is the order's page.
func orderURL(o *paygate.Order) string {
	return "/dashboard/orders/" + itoa(o.ID)
}
