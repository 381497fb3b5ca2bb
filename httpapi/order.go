package httpapi

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/paygate/paygate"
)

// orderJSON is an order as the API shows it (contract.md, "Orders").
// Absent values are null.
type orderJSON struct {
	OutTradeNo string       `json:"out_trade_no"`
	TradeNo    *string      `json:"trade_no"`
	Mode       paygate.Mode `json:"mode"`
	// Channel is the order's channel: alipay, wechat, or auto until a
	// payment decides it.
	Channel     paygate.Channel     `json:"channel"`
	Subject     string              `json:"subject"`
	TotalAmount paygate.Money       `json:"total_amount"`
	Status      paygate.OrderStatus `json:"status"`
	// QRCode is the code of the order's channel (Alipay's for an auto
	// order); QRCodes is every code by channel, null when there is none.
	QRCode         *string                    `json:"qr_code"`
	QRCodes        map[paygate.Channel]string `json:"qr_codes"`
	RefundedAmount paygate.Money              `json:"refunded_amount"`
	BuyerID        *string                    `json:"buyer_id"`
	CreatedAt      *string                    `json:"created_at"`
	PaidAt         *string                    `json:"paid_at"`
	ExpiresAt      *string                    `json:"expires_at"`
	// CashierURL is a QR order's page for the buyer (public URL + /pay/ +
	// its token); null for a barcode order.
	CashierURL *string `json:"cashier_url"`
}

// newOrderJSON is o as the API shows it; publicURL is the base of its
// cashier_url.
func newOrderJSON(o *paygate.Order, publicURL string) orderJSON {
	return orderJSON{
		OutTradeNo:     o.OutTradeNo,
		TradeNo:        optString(o.TradeNo),
		Mode:           o.Mode,
		Channel:        o.Channel.OrDefault(),
		Subject:        o.Subject,
		TotalAmount:    o.TotalAmount,
		Status:         o.Status,
		QRCode:         optString(o.ChannelQRCode()),
		QRCodes:        o.QRCodes(),
		RefundedAmount: o.RefundedAmount,
		BuyerID:        optString(o.BuyerID),
		CreatedAt:      optTime(o.CreatedAt),
		PaidAt:         optTime(o.PaidAt),
		ExpiresAt:      optTime(o.ExpiresAt),
		CashierURL:     optString(o.CashierURL(publicURL)),
	}
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// optTime writes t as RFC 3339 in UTC, or null when zero.
func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// createOrderBody is POST /api/v1/orders as sent; every field is checked
// by parse.
type createOrderBody struct {
	OutTradeNo  string `json:"out_trade_no"`
	Subject     string `json:"subject"`
	TotalAmount string `json:"total_amount"`
	Mode        string `json:"mode"`
	Channel     string `json:"channel"`
	AuthCode    string `json:"auth_code"`
	NotifyURL   string `json:"notify_url"`
	Timeout     string `json:"timeout"`
	ReturnURL   string `json:"return_url"`
}

func (b *createOrderBody) parse() (paygate.CreateOrder, error) {
	var req paygate.CreateOrder
	if err := checkTradeNo("out_trade_no", b.OutTradeNo); err != nil {
		return req, err
	}
	if err := checkSubject(b.Subject); err != nil {
		return req, err
	}
	amount, err := parseAmount("total_amount", b.TotalAmount)
	if err != nil {
		return req, err
	}
	channel := paygate.Channel(b.Channel).OrDefault()
	if !channel.Valid() {
		return req, invalid("channel must be \"alipay\", \"wechat\" or \"auto\" (absent means \"alipay\")")
	}
	mode := paygate.Mode(b.Mode)
	switch {
	case !mode.Valid():
		return req, invalid("mode must be \"qr\" or \"barcode\"")
	case mode == paygate.ModeBarcode && b.AuthCode == "":
		return req, invalid("auth_code is required in barcode mode")
	case mode == paygate.ModeQR && b.AuthCode != "":
		return req, invalid("auth_code is only for barcode mode")
	case mode == paygate.ModeBarcode:
		if err := checkAuthCode(channel, b.AuthCode); err != nil {
			return req, err
		}
	}
	if err := checkNotifyURL(b.NotifyURL); err != nil {
		return req, err
	}
	if b.ReturnURL != "" && mode != paygate.ModeQR {
		return req, invalid("return_url is only for qr mode: a barcode order has no cashier page to return from")
	}
	if err := checkReturnURL(b.ReturnURL); err != nil {
		return req, err
	}
	timeout, err := parseTimeout(b.Timeout)
	if err != nil {
		return req, err
	}
	return paygate.CreateOrder{
		OutTradeNo: b.OutTradeNo, Subject: b.Subject, TotalAmount: amount, Mode: mode, Channel: channel,
		AuthCode: b.AuthCode, NotifyURL: b.NotifyURL, Timeout: timeout, ReturnURL: b.ReturnURL,
	}, nil
}

// createOrder: 201 with the new order, 200 with the existing one when the
// same out_trade_no came with the same parameters.
func (s *Server) createOrder(c *gin.Context, m *paygate.Merchant) (int, any, error) {
	if err := checkQuery(c.Request.URL.Query()); err != nil {
		return 0, nil, err
	}
	var b createOrderBody
	if err := decodeJSON(body(c), &b); err != nil {
		return 0, nil, err
	}
	req, err := b.parse()
	if err != nil {
		return 0, nil, err
	}
	o, created, err := s.orders.CreateOrder(c.Request.Context(), m, req)
	if err != nil {
		return 0, nil, s.withOrder(c, m, req.OutTradeNo, err)
	}
	if created {
		return http.StatusCreated, newOrderJSON(o, s.publicURL), nil
	}
	return http.StatusOK, newOrderJSON(o, s.publicURL), nil
}

// withOrder gives a declined payment's error the order it closed, so that
// the 402 shows the merchant the order's final state with the reason. If the
// order cannot be read, the error goes without it.
func (s *Server) withOrder(c *gin.Context, m *paygate.Merchant, outTradeNo string, err error) error {
	if paygate.ErrorCode(err) != paygate.EPaymentFailed {
		return err
	}
	o, gerr := s.orders.GetOrder(c.Request.Context(), m, outTradeNo, false)
	if gerr != nil {
		addLogAttrs(c, slog.String("declined_order_error", gerr.Error()))
		return err
	}
	return &declinedError{err: err, order: o}
}

// pathTradeNo is the order named in the path.
func pathTradeNo(c *gin.Context) (string, error) {
	no := c.Param("out_trade_no")
	return no, checkTradeNo("out_trade_no", no)
}

// getOrder: the order; ?refresh=true asks the channel first.
func (s *Server) getOrder(c *gin.Context, m *paygate.Merchant) (int, any, error) {
	q := c.Request.URL.Query()
	if err := checkQuery(q, "refresh"); err != nil {
		return 0, nil, err
	}
	refresh := false
	switch q.Get("refresh") {
	case "", "false":
	case "true":
		refresh = true
	default:
		return 0, nil, invalid("refresh must be true or false")
	}
	no, err := pathTradeNo(c)
	if err != nil {
		return 0, nil, err
	}
	if err := emptyBody(body(c)); err != nil {
		return 0, nil, err
	}
	o, err := s.orders.GetOrder(c.Request.Context(), m, no, refresh)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, newOrderJSON(o, s.publicURL), nil
}

// Page sizes of GET /api/v1/orders.
const (
	defaultLimit = 20
	maxLimit     = 100
)

type orderListJSON struct {
	Orders     []orderJSON `json:"orders"`
	NextCursor *string     `json:"next_cursor"`
}

// listOrders: a page of the merchant's orders, newest first. It asks for one
// more than the page so that next_cursor is null exactly on the last page.
func (s *Server) listOrders(c *gin.Context, m *paygate.Merchant) (int, any, error) {
	q := c.Request.URL.Query()
	if err := checkQuery(q, "status", "limit", "cursor"); err != nil {
		return 0, nil, err
	}
	f := paygate.OrderFilter{MerchantID: m.ID, Limit: defaultLimit}
	if v := q.Get("status"); v != "" {
		f.Status = paygate.OrderStatus(v)
		if !f.Status.Valid() {
			return 0, nil, invalid("status must be pending, paid, closed or refunded")
		}
	}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > maxLimit {
			return 0, nil, invalid("limit must be a whole number from 1 to %d", maxLimit)
		}
		f.Limit = n
	}
	if v, ok := q["cursor"]; ok {
		id, err := decodeCursor(v[0])
		if err != nil {
			return 0, nil, err
		}
		f.BeforeID = id
	}
	if err := emptyBody(body(c)); err != nil {
		return 0, nil, err
	}
	limit := f.Limit
	f.Limit++
	orders, err := s.orders.ListOrders(c.Request.Context(), f)
	if err != nil {
		return 0, nil, err
	}
	out := orderListJSON{Orders: make([]orderJSON, 0, min(len(orders), limit))}
	for i, o := range orders {
		if i == limit {
			cur := encodeCursor(orders[limit-1].ID)
			out.NextCursor = &cur
			break
		}
		out.Orders = append(out.Orders, newOrderJSON(o, s.publicURL))
	}
	return http.StatusOK, out, nil
}

// A cursor is the last order's id, versioned and base64url-encoded so that
// clients treat it as opaque.
const cursorPrefix = "o1:"

func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(id, 10)))
}

func decodeCursor(s string) (int64, error) {
	bad := invalid("cursor is not one this API returned; use next_cursor as given")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, bad
	}
	digits, ok := strings.CutPrefix(string(raw), cursorPrefix)
	if !ok || digits == "" || !isDigits(digits) {
		return 0, bad
	}
	id, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || id <= 0 {
		return 0, bad
	}
	return id, nil
}

// closeOrder closes a pending order (at the channel too).
func (s *Server) closeOrder(c *gin.Context, m *paygate.Merchant) (int, any, error) {
	if err := checkQuery(c.Request.URL.Query()); err != nil {
		return 0, nil, err
	}
	no, err := pathTradeNo(c)
	if err != nil {
		return 0, nil, err
	}
	if err := emptyBody(body(c)); err != nil {
		return 0, nil, err
	}
	o, err := s.orders.CloseOrder(c.Request.Context(), m, no)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, newOrderJSON(o, s.publicURL), nil
}
