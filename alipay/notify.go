package alipay

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/paygate/paygate"
)

// NotifyAck is the exact body that acknowledges a notification (§5.1).
// Anything else makes Alipay send it again.
const NotifyAck = "success"

// maxNotifyBody bounds a notification body; real ones are about 1 KiB.
const maxNotifyBody = 64 << 10

// Notification is a verified trade_status_sync notification (§5.2). Form
// keeps the fields exactly as received and verified.
type Notification struct {
	NotifyID       string
	NotifyType     string
	NotifyTime     time.Time
	AppID          string
	AuthAppID      string
	TradeNo        string
	OutTradeNo     string
	OutBizNo       string // the refund's out_request_no on refund notifications
	TradeStatus    string
	TotalAmount    paygate.Money
	ReceiptAmount  paygate.Money
	InvoiceAmount  paygate.Money
	BuyerPayAmount paygate.Money
	PointAmount    paygate.Money
	RefundFee      paygate.Money // cumulative refunded amount
	BuyerID        string
	BuyerLogonID   string
	SellerID       string
	SellerEmail    string
	Subject        string
	Body           string
	PassbackParams string
	GmtCreate      time.Time
	GmtPayment     time.Time
	GmtRefund      time.Time
	GmtClose       time.Time
	FundBillList   []NotifyFundBill
	Form           url.Values
}

// NotifyFundBill is one funding channel; notifications use camelCase keys.
type NotifyFundBill struct {
	Amount      paygate.Money `json:"amount"`
	FundChannel string        `json:"fundChannel"`
}

// Paid reports whether the notified status means the buyer paid (§4).
func (n *Notification) Paid() bool {
	return n.TradeStatus == TradeSuccess || n.TradeStatus == TradeFinished
}

// Errors of notification parsing and checking. Each means: answer "failure"
// and change nothing.
var (
	ErrNotifySignature = errors.New("alipay notification: signature does not verify")
	ErrNotifyMalformed = errors.New("alipay notification: malformed")
	ErrNotifyMismatch  = errors.New("alipay notification: does not match the order")
)

// ReadNotificationForm reads a notification's form from r's body. Only the
// body counts: parameters a proxy or framework put in the query string were
// not sent by Alipay and must not reach verification (§7, easysdk #237).
func ReadNotificationForm(r *http.Request) (url.Values, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, maxNotifyBody)
	if err := r.ParseForm(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotifyMalformed, err)
	}
	return r.PostForm, nil
}

// VerifyNotification checks the signature of a notification form (§5.3):
// sign and sign_type are taken out, empty values dropped, the rest sorted and
// joined with values exactly as decoded once, and verified with Alipay's key.
// If that fails and the form carries alipay_cert_sn, it is tried once more
// without that field, as some SDKs sign (certificate mode).
func VerifyNotification(form url.Values, pub *rsa.PublicKey) error {
	for k, vs := range form {
		if len(vs) != 1 {
			return fmt.Errorf("%w: field %q appears %d times", ErrNotifyMalformed, k, len(vs))
		}
	}
	sign := form.Get("sign")
	if sign == "" {
		return fmt.Errorf("%w: no sign", ErrNotifySignature)
	}
	if st := form.Get("sign_type"); st != "" && st != "RSA2" {
		return fmt.Errorf("%w: sign_type %q, want RSA2", ErrNotifySignature, st)
	}
	if Verify(pub, []byte(SignContent(form, "sign", "sign_type")), sign) == nil {
		return nil
	}
	if form.Get("alipay_cert_sn") != "" &&
		Verify(pub, []byte(SignContent(form, "sign", "sign_type", "alipay_cert_sn")), sign) == nil {
		return nil
	}
	return ErrNotifySignature
}

// ParseNotification verifies form with pub and decodes it. Amounts and times
// must be well formed; fund_bill_list is HTML-unescaped only after the
// signature is checked, since the signature covers the text as sent (§5.3).
func ParseNotification(form url.Values, pub *rsa.PublicKey) (*Notification, error) {
	if err := VerifyNotification(form, pub); err != nil {
		return nil, err
	}
	n := &Notification{
		NotifyID: form.Get("notify_id"), NotifyType: form.Get("notify_type"),
		AppID: form.Get("app_id"), AuthAppID: form.Get("auth_app_id"),
		TradeNo: form.Get("trade_no"), OutTradeNo: form.Get("out_trade_no"),
		OutBizNo: form.Get("out_biz_no"), TradeStatus: form.Get("trade_status"),
		BuyerID: form.Get("buyer_id"), BuyerLogonID: form.Get("buyer_logon_id"),
		SellerID: form.Get("seller_id"), SellerEmail: form.Get("seller_email"),
		Subject: form.Get("subject"), Body: form.Get("body"),
		PassbackParams: form.Get("passback_params"), Form: form,
	}
	if n.AppID == "" || n.OutTradeNo == "" || n.TradeStatus == "" || form.Get("total_amount") == "" {
		return nil, fmt.Errorf("%w: app_id, out_trade_no, trade_status and total_amount are required", ErrNotifyMalformed)
	}
	amounts := []struct {
		key string
		dst *paygate.Money
	}{
		{"total_amount", &n.TotalAmount}, {"receipt_amount", &n.ReceiptAmount},
		{"invoice_amount", &n.InvoiceAmount}, {"buyer_pay_amount", &n.BuyerPayAmount},
		{"point_amount", &n.PointAmount}, {"refund_fee", &n.RefundFee},
	}
	for _, a := range amounts {
		if v := form.Get(a.key); v != "" {
			m, err := paygate.ParseYuan(v)
			if err != nil || m < 0 {
				return nil, fmt.Errorf("%w: %s %q is not an amount", ErrNotifyMalformed, a.key, v)
			}
			*a.dst = m
		}
	}
	times := []struct {
		key string
		dst *time.Time
	}{
		{"notify_time", &n.NotifyTime}, {"gmt_create", &n.GmtCreate},
		{"gmt_payment", &n.GmtPayment}, {"gmt_refund", &n.GmtRefund}, {"gmt_close", &n.GmtClose},
	}
	for _, tm := range times {
		if v := form.Get(tm.key); v != "" {
			t, err := ParseTime(v)
			if err != nil {
				return nil, fmt.Errorf("%w: %s %q is not a time", ErrNotifyMalformed, tm.key, v)
			}
			*tm.dst = t
		}
	}
	if v := form.Get("fund_bill_list"); v != "" {
		// A malformed list is tolerated: it is informational, and the amounts
		// that matter are the signed top-level fields.
		_ = json.Unmarshal([]byte(html.UnescapeString(v)), &n.FundBillList)
	}
	return n, nil
}

// ParseNotification verifies and decodes a notification for this client's app.
func (c *Client) ParseNotification(form url.Values) (*Notification, error) {
	return ParseNotification(form, c.verifyKey)
}

// NotifyExpect is what a notification must match (§5.4).
type NotifyExpect struct {
	AppID       string        // the merchant's own app id
	TotalAmount paygate.Money // the order's amount
	SellerID    string        // expected seller; empty skips the check
}

// Check applies §5.4's checks: app id, amount and (when configured) seller.
// The caller has already found the order by out_trade_no.
func (n *Notification) Check(want NotifyExpect) error {
	var bad []string
	if n.AppID != want.AppID {
		bad = append(bad, fmt.Sprintf("app_id %s is not %s", n.AppID, want.AppID))
	}
	if n.TotalAmount != want.TotalAmount {
		bad = append(bad, fmt.Sprintf("total_amount %s is not the order's %s", n.TotalAmount, want.TotalAmount))
	}
	if want.SellerID != "" && n.SellerID != want.SellerID {
		bad = append(bad, fmt.Sprintf("seller_id %s is not %s", n.SellerID, want.SellerID))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", ErrNotifyMismatch, strings.Join(bad, "; "))
	}
	return nil
}
