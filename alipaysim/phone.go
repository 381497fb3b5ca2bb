package alipaysim

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
)

// The buyer's phone: GET /sim/ is a page a person uses as the Alipay app
// would be used, to click the demo through end to end. It lists the codes
// waiting to be paid (precreated, unpaid), pays one picked or pasted with a
// plain form (POST /sim/phone/pay, the logic of POST /sim/pay), and shows a
// fresh barcode auth code of a chosen kind to type into a shop's barcode
// order. Everything it needs is embedded; no inline script or style.

//go:embed assets
var phoneAssets embed.FS

var phonePage = sync.OnceValue(func() *template.Template {
	return template.Must(template.ParseFS(phoneAssets, "assets/phone.html"))
})

var phoneStatic = sync.OnceValue(func() http.Handler {
	sub, err := fs.Sub(phoneAssets, "assets/static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return http.StripPrefix("/sim/static/", http.FileServerFS(sub))
})

// AuthCodeKind is a barcode auth code's first two digits, which decide
// what a payment with it does (contract.md).
type AuthCodeKind struct {
	Prefix string
	Label  string
}

// Wallet is another simulated wallet served beside this simulator (the
// WeChat Pay simulator, in paygate sim and demo): the phone page lists its
// QR codes waiting to be paid with Alipay's, pays one picked or pasted
// through Pay, and offers its payment-code kinds beside Alipay's. This
// package knows only these functions, never the wallet's protocol.
type Wallet struct {
	// Name is shown with its codes and kinds ("WeChat Pay").
	Name string
	// Owns reports whether a QR code is this wallet's.
	Owns func(qrCode string) bool
	// Pending lists its codes a buyer can pay now.
	Pending func() []PendingCode
	// Pay pays qrCode as a new buyer of the wallet. An error's text is
	// shown to the buyer.
	Pay func(ctx context.Context, qrCode string) (WalletPayment, error)
	// Kinds are its payment codes' kinds (18 digits, the prefix first),
	// offered by "Show a barcode".
	Kinds []AuthCodeKind
}

// WalletPayment is a payment a Wallet made, as the phone shows it.
type WalletPayment struct {
	OutTradeNo  string
	Subject     string
	TradeNo     string
	Buyer       string
	TotalAmount paygate.Money
}

// wallet is the configured wallet that owns qrCode, or nil (Alipay's).
func (s *Server) wallet(qrCode string) *Wallet {
	for i, w := range s.cfg.Wallets {
		if w.Owns != nil && w.Owns(qrCode) {
			return &s.cfg.Wallets[i]
		}
	}
	return nil
}

// phoneKinds are the kinds the page offers: Alipay's, then each wallet's,
// named by wallet when there is more than one.
func (s *Server) phoneKinds() []phoneKind {
	var out []phoneKind
	alipayName := ""
	if len(s.cfg.Wallets) > 0 {
		alipayName = "Alipay"
	}
	for _, k := range AuthCodeKinds {
		out = append(out, phoneKind{AuthCodeKind: k, Wallet: alipayName})
	}
	for _, w := range s.cfg.Wallets {
		for _, k := range w.Kinds {
			out = append(out, phoneKind{AuthCodeKind: k, Wallet: w.Name})
		}
	}
	return out
}

// newPhoneAuthCode is a fresh 18-digit code of one of the page's kinds.
func (s *Server) newPhoneAuthCode(prefix string) (string, bool) {
	if code, ok := NewAuthCode(prefix); ok {
		return code, true
	}
	for _, w := range s.cfg.Wallets {
		for _, k := range w.Kinds {
			if k.Prefix == prefix && len(prefix) < authCodeLen {
				return prefix + randomDigits(authCodeLen-len(prefix)), true
			}
		}
	}
	return "", false
}

// authCodeLen is the length of a barcode auth code, Alipay's and WeChat
// Pay's alike.
const authCodeLen = 18

// AuthCodeKinds are the kinds the phone page offers, in its order.
var AuthCodeKinds = []AuthCodeKind{
	{"28", "Pays at once"},
	{"29", "Asks the buyer to confirm, then pays a few seconds later"},
	{"27", "Never paid: the buyer does not confirm"},
	{"26", "Declined: not enough balance"},
}

// NewAuthCode returns a fresh 18-digit auth code of the kind prefix (one
// of AuthCodeKinds'); ok is false for another prefix.
func NewAuthCode(prefix string) (code string, ok bool) {
	for _, k := range AuthCodeKinds {
		if k.Prefix == prefix {
			return prefix + randomDigits(16), true
		}
	}
	return "", false
}

// PendingCode is a QR code a buyer can pay now.
type PendingCode struct {
	QRCode      string
	OutTradeNo  string
	Subject     string
	TotalAmount paygate.Money
	ExpiresAt   time.Time // the code's, or the scanned trade's
}

// PendingCodes lists the precreated codes that can be paid now (nobody
// paid them, nothing closed them, their time has not run out), newest
// first.
func (s *Server) PendingCodes() []PendingCode {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := []PendingCode{}
	for code, t := range s.book.byCode {
		s.touch(t, now)
		if _, cancelled := s.book.cancelled[t.key()]; cancelled || t.Voided != "" || t.QRCode != code {
			continue
		}
		exp := t.CodeExpires
		switch t.Status {
		case "":
		case alipay.TradeWaitBuyerPay:
			exp = t.Expires
		default:
			continue
		}
		if !now.Before(exp) {
			continue
		}
		out = append(out, PendingCode{QRCode: code, OutTradeNo: t.OutTradeNo, Subject: t.Subject, TotalAmount: t.Total, ExpiresAt: exp})
	}
	slices.SortFunc(out, func(a, b PendingCode) int {
		return cmp.Or(b.ExpiresAt.Compare(a.ExpiresAt), strings.Compare(a.QRCode, b.QRCode))
	})
	return out
}

// phoneData is what phone.html renders.
type phoneData struct {
	Wallets  []string // the other wallets' names, beside Alipay
	Pending  []pendingRow
	Picked   string // the code picked or pasted last (kept on an error)
	BuyerID  string
	Result   *phoneResult
	Kinds    []phoneKind
	Kind     string // the kind last shown
	AuthCode string // a fresh code of Kind, or ""
}

type pendingRow struct {
	QRCode, OutTradeNo, Subject, Amount, Left string
	Wallet                                    string // "" for Alipay's own codes
	expires                                   time.Time
}

// phoneKind is a kind on the page, with its wallet's name when the page
// offers more than Alipay's.
type phoneKind struct {
	AuthCodeKind
	Wallet string
}

// phoneResult is the outcome of a payment from the page.
type phoneResult struct {
	OK      bool
	Title   string
	Message string
}

// servePhone is GET /sim/: the page, with a fresh auth code when
// ?barcode=PREFIX asks for one.
func (s *Server) servePhone(w http.ResponseWriter, r *http.Request) {
	d := s.phoneData()
	if k := r.URL.Query().Get("barcode"); k != "" {
		code, ok := s.newPhoneAuthCode(k)
		if !ok {
			d.Result = &phoneResult{Title: "Unknown barcode kind", Message: "Pick one of the kinds listed."}
			s.renderPhone(w, r, http.StatusBadRequest, d)
			return
		}
		d.Kind, d.AuthCode = k, code
	}
	s.renderPhone(w, r, http.StatusOK, d)
}

// servePhonePay is POST /sim/phone/pay: the form's qr_code (pasted) or
// pick (from the list), and buyer_id, paid as POST /sim/pay pays them.
func (s *Server) servePhonePay(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		phoneHeaders(w.Header())
		http.Error(w, "cross-site form refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		d := s.phoneData()
		d.Result = &phoneResult{Title: "Not paid", Message: "The form could not be read."}
		s.renderPhone(w, r, http.StatusBadRequest, d)
		return
	}
	code := strings.TrimSpace(r.PostForm.Get("qr_code"))
	if code == "" {
		code = r.PostForm.Get("pick")
	}
	buyer := strings.TrimSpace(r.PostForm.Get("buyer_id"))
	if code == "" {
		d := s.phoneData()
		d.BuyerID = buyer
		d.Result = &phoneResult{Title: "Not paid", Message: "Pick a code from the list or paste one."}
		s.renderPhone(w, r, http.StatusBadRequest, d)
		return
	}
	if wal := s.wallet(code); wal != nil {
		s.servePhonePayWallet(w, r, wal, code, buyer)
		return
	}
	view, err := s.scan(r.Context(), code, buyer, true)
	d := s.phoneData()
	if err != nil {
		d.Picked, d.BuyerID = code, buyer
		d.Result = &phoneResult{Title: "Not paid", Message: buyerMessage(err)}
		s.renderPhone(w, r, buyerStatus(err), d)
		return
	}
	d.Result = &phoneResult{OK: true, Title: "Paid ¥" + view.TotalAmount.Yuan(),
		Message: view.Subject + " (" + view.OutTradeNo + "), trade " + view.TradeNo + ", buyer " + view.BuyerID + "."}
	s.renderPhone(w, r, http.StatusOK, d)
}

// servePhonePayWallet pays another wallet's code from the form. Alipay's
// buyer id means nothing to it: the wallet picks its own buyer.
func (s *Server) servePhonePayWallet(w http.ResponseWriter, r *http.Request, wal *Wallet, code, buyer string) {
	p, err := wal.Pay(r.Context(), code)
	d := s.phoneData()
	if err != nil {
		d.Picked, d.BuyerID = code, buyer
		d.Result = &phoneResult{Title: "Not paid", Message: wal.Name + ": " + err.Error()}
		s.renderPhone(w, r, http.StatusConflict, d)
		return
	}
	d.Result = &phoneResult{OK: true, Title: "Paid ¥" + p.TotalAmount.Yuan() + " with " + wal.Name,
		Message: p.Subject + " (" + p.OutTradeNo + "), transaction " + p.TradeNo + ", buyer " + p.Buyer + "."}
	s.renderPhone(w, r, http.StatusOK, d)
}

// buyerMessage says a buyer error in a sentence for the page.
func buyerMessage(err error) string {
	switch {
	case errors.Is(err, ErrUnknownCode):
		return "No code waiting to be paid is this one: check it, or it was replaced."
	case errors.Is(err, ErrCodeExpired):
		return "This code has expired."
	case errors.Is(err, ErrTradeClosed):
		return "This payment was closed or cancelled."
	case errors.Is(err, ErrTradePaid):
		return "This code is already paid."
	case errors.Is(err, ErrOtherBuyer):
		return "Another buyer scanned this code first."
	case errors.Is(err, ErrBadBuyerID):
		return "A buyer id is 16 digits starting with 2088 (or leave it empty)."
	}
	return "The payment failed: " + err.Error()
}

func (s *Server) phoneData() phoneData {
	now := s.now()
	kinds := s.phoneKinds()
	d := phoneData{Kinds: kinds, Kind: kinds[0].Prefix}
	for _, p := range s.PendingCodes() {
		d.Pending = append(d.Pending, pendingRow{QRCode: p.QRCode, OutTradeNo: p.OutTradeNo, Subject: p.Subject,
			Amount: p.TotalAmount.Yuan(), Left: leftIn(p.ExpiresAt.Sub(now)), expires: p.ExpiresAt})
	}
	for _, w := range s.cfg.Wallets {
		d.Wallets = append(d.Wallets, w.Name)
		if w.Pending == nil {
			continue
		}
		for _, p := range w.Pending() {
			d.Pending = append(d.Pending, pendingRow{QRCode: p.QRCode, OutTradeNo: p.OutTradeNo, Subject: p.Subject,
				Amount: p.TotalAmount.Yuan(), Left: leftIn(p.ExpiresAt.Sub(now)), Wallet: w.Name, expires: p.ExpiresAt})
		}
	}
	// Newest first across the wallets, as PendingCodes orders Alipay's.
	slices.SortStableFunc(d.Pending, func(a, b pendingRow) int {
		return cmp.Or(b.expires.Compare(a.expires), strings.Compare(a.QRCode, b.QRCode))
	})
	return d
}

// leftIn writes the time a code has left: to the minute, or the second
// in its last minute.
func leftIn(d time.Duration) string {
	if d < time.Minute {
		return "expires in " + d.Truncate(time.Second).String()
	}
	return "expires in " + strings.TrimSuffix(d.Truncate(time.Minute).String(), "0s")
}

func (s *Server) renderPhone(w http.ResponseWriter, r *http.Request, status int, d phoneData) {
	var buf bytes.Buffer
	if err := phonePage().Execute(&buf, d); err != nil {
		s.log.Error("render the phone page", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	phoneHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// servePhoneStatic serves /sim/static/… (the page's CSS and JS).
func (s *Server) servePhoneStatic(w http.ResponseWriter, r *http.Request) {
	phoneHeaders(w.Header())
	phoneStatic().ServeHTTP(w, r)
}

// phoneHeaders: the page's own files only, no inline script or style,
// never framed, no Referer, nothing cached or sniffed.
func phoneHeaders(hd http.Header) {
	hd.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "+
		"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
}

// sameOrigin refuses a form posted from another site (a page elsewhere
// cannot make this browser pay the simulator's codes). A browser says
// where a request comes from in Sec-Fetch-Site; one too old for that sends
// Origin, which must then be this host ("null" under a no-referrer policy
// is let through). Clients that send neither are not browsers.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}
