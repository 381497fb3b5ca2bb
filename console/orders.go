package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paygate/paygate"
)

// ordersPage is the orders search and each order's page with its actions.
func (c *Console) ordersPage() page {
	return page{Nav: "Orders", Path: "/dashboard/orders", Routes: func(r *router) {
		r.Get("/dashboard/orders", c.orders)
		r.Get("/dashboard/orders/{id}", c.order)
		r.Post("/dashboard/orders/{id}/refresh", c.refreshOrder)
		r.Post("/dashboard/orders/{id}/close", c.closeOrder)
		r.Post("/dashboard/orders/{id}/refund", c.refundOrder)
		r.Post("/dashboard/orders/{id}/events/{event}/resend", c.resendEvent)
	}}
}

// ordersPageSize is how many orders a page of the search shows.
const ordersPageSize = 50

// ordersView is the search page's data.
type ordersView struct {
	Form     orderForm
	Statuses []paygate.OrderStatus
	Error    string
	Rows     []orderRow
	Next     string // the next page's query; empty on the last page
	First    string // the first page's query, when not on it
	Searched bool
}

// orderForm is the search form as typed.
type orderForm struct {
	OutTradeNo, TradeNo, Status, Merchant, From, To string
}

type orderRow struct {
	Order    *paygate.Order
	Merchant string
}

// orders lists orders across merchants, newest first, as the form selects.
func (c *Console) orders(w http.ResponseWriter, r *http.Request, s *Session) error {
	q := r.URL.Query()
	f := orderForm{
		OutTradeNo: strings.TrimSpace(q.Get("out_trade_no")), TradeNo: strings.TrimSpace(q.Get("trade_no")),
		Status: q.Get("status"), Merchant: strings.TrimSpace(q.Get("merchant")),
		From: q.Get("from"), To: q.Get("to"),
	}
	v := ordersView{Form: f, Statuses: []paygate.OrderStatus{paygate.StatusPending, paygate.StatusPaid,
		paygate.StatusClosed, paygate.StatusRefunded}}
	search, err := c.parseSearch(r.Context(), f, q.Get("before"))
	if err != nil {
		v.Error = paygate.ErrorMessage(err)
		c.render(w, r, s, statusOf(err), "orders", v)
		return nil
	}
	v.Searched = f != orderForm{}
	search.Limit = ordersPageSize + 1
	list, err := c.store.SearchOrders(r.Context(), search)
	if err != nil {
		return err
	}
	if len(list) > ordersPageSize {
		list = list[:ordersPageSize]
		next := url.Values{}
		for k, vals := range q {
			if k != "before" {
				next[k] = vals
			}
		}
		next.Set("before", strconv.FormatInt(list[len(list)-1].ID, 10))
		v.Next = "?" + next.Encode()
	}
	if search.BeforeID > 0 {
		first := url.Values{}
		for k, vals := range q {
			if k != "before" {
				first[k] = vals
			}
		}
		v.First = "?" + first.Encode()
	}
	names := c.merchantNames(r.Context())
	for _, o := range list {
		v.Rows = append(v.Rows, orderRow{Order: o, Merchant: names(o.MerchantID)})
	}
	c.render(w, r, s, http.StatusOK, "orders", v)
	return nil
}

// parseSearch turns the form into a store search, or an EInvalid error
// saying which field is wrong.
func (c *Console) parseSearch(ctx context.Context, f orderForm, before string) (paygate.OrderSearch, error) {
	var s paygate.OrderSearch
	s.OutTradeNo, s.TradeNo = f.OutTradeNo, f.TradeNo
	if f.Status != "" {
		s.Status = paygate.OrderStatus(f.Status)
		if !s.Status.Valid() {
			return s, paygate.Errorf(paygate.EInvalid, "status must be pending, paid, closed or refunded")
		}
	}
	if f.Merchant != "" {
		id, err := c.merchantID(ctx, f.Merchant)
		if err != nil {
			return s, err
		}
		s.MerchantID = id
	}
	day := func(field, v string) (time.Time, error) {
		if v == "" {
			return time.Time{}, nil
		}
		t, err := time.ParseInLocation("2006-01-02", v, Zone)
		if err != nil {
			return t, paygate.Errorf(paygate.EInvalid, "%s must be a date like 2026-03-04", field)
		}
		return t, nil
	}
	var err error
	if s.From, err = day("from", f.From); err != nil {
		return s, err
	}
	if s.To, err = day("to", f.To); err != nil {
		return s, err
	}
	if !s.To.IsZero() {
		s.To = s.To.AddDate(0, 0, 1) // the form's "to" day is included
	}
	if !s.From.IsZero() && !s.To.IsZero() && !s.From.Before(s.To) {
		return s, paygate.Errorf(paygate.EInvalid, "from must not be after to")
	}
	if before != "" {
		if s.BeforeID, err = strconv.ParseInt(before, 10, 64); err != nil || s.BeforeID <= 0 {
			return s, paygate.Errorf(paygate.EInvalid, "the page cursor is not valid; start from the first page")
		}
	}
	return s, nil
}

// merchantID reads the merchant field: an access key or a numeric ID.
func (c *Console) merchantID(ctx context.Context, v string) (int64, error) {
	var m *paygate.Merchant
	var err error
	if id, perr := strconv.ParseInt(v, 10, 64); perr == nil && id > 0 {
		m, err = c.store.MerchantByID(ctx, id)
	} else {
		m, err = c.store.MerchantByAccessKey(ctx, v)
	}
	if paygate.ErrorCode(err) == paygate.ENotFound {
		return 0, paygate.Errorf(paygate.EInvalid, "no merchant has the access key or ID %q", v)
	}
	if err != nil {
		return 0, err
	}
	return m.ID, nil
}

// merchantNames names merchants by ID, each looked up once per request;
// a merchant that cannot be read is shown by its ID.
func (c *Console) merchantNames(ctx context.Context) func(id int64) string {
	cache := map[int64]string{}
	return func(id int64) string {
		if n, ok := cache[id]; ok {
			return n
		}
		n := "#" + strconv.FormatInt(id, 10)
		if m, err := c.store.MerchantByID(ctx, id); err == nil {
			n = m.Name
		}
		cache[id] = n
		return n
	}
}

// orderByPath reads the order named by the {id} path value.
func (c *Console) orderByPath(r *http.Request) (*paygate.Order, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, paygate.Errorf(paygate.ENotFound, "no such order")
	}
	o, err := c.store.OrderByID(r.Context(), id)
	if paygate.ErrorCode(err) == paygate.ENotFound {
		return nil, paygate.Errorf(paygate.ENotFound, "no such order")
	}
	return o, err
}
