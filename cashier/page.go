package cashier

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/paygate/paygate"
)

// State is what the buyer is shown, a little finer than the order's
// status: a pending order past its expiry is "expired" (it can no longer be
// paid; compensation closes it at the channel later), and so is an order
// closed at or after its expiry.
type State string

// The buyer's states.
const (
	StatePending  State = "pending"
	StatePaid     State = "paid"
	StateRefunded State = "refunded"
	StateClosed   State = "closed"
	StateExpired  State = "expired"
)

// stateOf is o's state for the buyer at now.
func stateOf(o *paygate.Order, now time.Time) State {
	switch o.Status {
	case paygate.StatusPaid:
		return StatePaid
	case paygate.StatusRefunded:
		return StateRefunded
	case paygate.StatusClosed:
		if !o.ClosedAt.IsZero() && !o.ClosedAt.Before(o.ExpiresAt) {
			return StateExpired
		}
		return StateClosed
	}
	if !now.Before(o.ExpiresAt) {
		return StateExpired
	}
	return StatePending
}

// settled reports whether o can no longer change in a way the page shows:
// its stream ends. A pending order past its expiry is not settled: a late
// notification may still show it paid.
func settled(o *paygate.Order) bool { return o.Status != paygate.StatusPending }

// noScriptRefresh is how often the page reloads itself without JavaScript.
const noScriptRefresh = 5

// pageData is what page.html renders.
type pageData struct {
	Shop       string
	Subject    string
	Amount     string // yuan, "9.90"
	State      State
	Settled    bool
	Codes      []code          // the order's codes, Alipay's first; none yet: the page says they are coming
	HasQR      bool            // len(Codes) > 0
	Wallet     paygate.Channel // the wallet that paid (paidWallet), "" when none or not known
	ExpiresAt  string          // RFC 3339, for <time> and the script
	Now        string          // the server's clock, so the countdown ignores the phone's
	Remaining  string          // "14:59" as rendered, for readers without script
	ReturnURL  string
	EventsURL  string
	Refresh    int // seconds; 0: no refresh (settled)
	StaticBase string
}

// code is one QR code on the page, with the wallet that scans it.
type code struct {
	Channel paygate.Channel // alipay or wechat, for ids and classes
	Wallet  wallet
	SVG     template.HTML // made by qrSVG (no outside text but an escaped label)
}

// wallet is how the page names a channel's app to the buyer.
type wallet struct {
	Name   string // "Alipay"
	NameZh string // "支付宝"
	App    string // the app that scans the code: "Alipay", "WeChat"
	AppZh  string // "支付宝", "微信"
}

// walletOf is how the page names channel c's wallet (alipay or wechat).
func walletOf(c paygate.Channel) wallet {
	if c == paygate.ChannelWechat {
		return wallet{Name: "WeChat Pay", NameZh: "微信支付", App: "WeChat", AppZh: "微信"}
	}
	return wallet{Name: "Alipay", NameZh: "支付宝", App: "Alipay", AppZh: "支付宝"}
}

// paidWallet is the channel o was paid on, alipay or wechat; "" when o was
// not paid, or its channel does not say (an auto order not yet decided).
// An order stored before orders named a channel is an Alipay order.
func paidWallet(o *paygate.Order) paygate.Channel {
	if o.Status != paygate.StatusPaid && o.Status != paygate.StatusRefunded {
		return ""
	}
	switch c := o.Channel.OrDefault(); c {
	case paygate.ChannelAlipay, paygate.ChannelWechat:
		return c
	}
	return ""
}

// drawCodes draws o's codes (Order.QRCodes), Alipay's first, each labelled
// for screen readers with its wallet, the amount and the shop.
func drawCodes(o *paygate.Order, amount, shop string) ([]code, error) {
	codes := o.QRCodes()
	var out []code
	for _, c := range []paygate.Channel{paygate.ChannelAlipay, paygate.ChannelWechat} {
		content, ok := codes[c]
		if !ok {
			continue
		}
		w := walletOf(c)
		svg, err := qrSVG(content, "QR code to scan with "+w.Name+": pay "+amount+" yuan to "+shop)
		if err != nil {
			return nil, fmt.Errorf("draw the %s code: %w", c, err)
		}
		out = append(out, code{Channel: c, Wallet: w, SVG: template.HTML(svg)}) // #nosec: our own SVG; the label is escaped
	}
	return out, nil
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request, token string) {
	o, err := h.cfg.Store.OrderByCashierToken(r.Context(), token)
	if paygate.ErrorCode(err) == paygate.ENotFound || (err == nil && o.Mode != paygate.ModeQR) {
		h.writeNotFound(w)
		return
	}
	if err != nil {
		h.log.WarnContext(r.Context(), "cashier: read order", "err", err)
		h.writeUnavailable(w)
		return
	}
	m, err := h.cfg.Store.MerchantByID(r.Context(), o.MerchantID)
	if err != nil {
		h.log.WarnContext(r.Context(), "cashier: read merchant", "merchant_id", o.MerchantID, "err", err)
		h.writeUnavailable(w)
		return
	}
	now := h.cfg.Now()
	d := pageData{
		Shop: m.Name, Subject: o.Subject, Amount: o.TotalAmount.Yuan(), State: stateOf(o, now), Settled: settled(o),
		ExpiresAt: o.ExpiresAt.UTC().Format(time.RFC3339), Now: now.UTC().Format(time.RFC3339Nano),
		Remaining: remaining(o.ExpiresAt.Sub(now)), ReturnURL: o.ReturnURL,
		EventsURL: Prefix + token + "/events", StaticBase: Prefix + "static/",
	}
	if !d.Settled {
		d.Refresh = noScriptRefresh
	}
	d.Wallet = paidWallet(o)
	codes, err := drawCodes(o, d.Amount, m.Name)
	if err != nil {
		h.log.ErrorContext(r.Context(), "cashier: draw QR code", "err", err)
		h.writeUnavailable(w)
		return
	}
	d.Codes, d.HasQR = codes, len(codes) > 0
	var buf bytes.Buffer
	if err := h.page.Execute(&buf, d); err != nil {
		h.log.ErrorContext(r.Context(), "cashier: render", "err", err)
		h.writeUnavailable(w)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// remaining writes a duration as m:ss, or h:mm:ss from an hour; 0:00 when
// past.
func remaining(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
