package wechatpaysim

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/paygate/paygate/wechatpay"
)

// simPrefix is where the simulator's own routes live.
const simPrefix = "/sim/wechat/"

// Buyer errors of Pay. Each changes nothing.
var (
	ErrUnknownCode  = errors.New("wechatpaysim: no order has this code_url")
	ErrCodeExpired  = errors.New("wechatpaysim: the code_url is more than 2 hours old")
	ErrOrderExpired = errors.New("wechatpaysim: 订单已超过商户设置的最晚支付成功时间，请重新发起支付")
	ErrOrderClosed  = errors.New("wechatpaysim: the order is closed")
	ErrOrderPaid    = errors.New("wechatpaysim: the order is already paid")
	ErrBadOpenID    = errors.New("wechatpaysim: openid must be o and 27 of [A-Za-z0-9_-]")
)

var openIDRe = regexp.MustCompile(`^o[A-Za-z0-9_-]{27}$`)

// Pay is a buyer scanning codeURL in WeChat and paying: the order becomes
// SUCCESS with a transaction_id, and TRANSACTION.SUCCESS is sent to its
// notify_url. openid "" is a new buyer. The change is durable before Pay
// returns.
func (s *Server) Pay(codeURL, openID string) (TradeView, error) {
	if openID != "" && !openIDRe.MatchString(openID) {
		return TradeView{}, ErrBadOpenID
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.book.byCode[codeURL]
	if t == nil {
		return TradeView{}, ErrUnknownCode
	}
	t = s.current(t.key())
	switch {
	case t.paid():
		return TradeView{}, ErrOrderPaid
	case t.State != wechatpay.TradeNotPay:
		return TradeView{}, ErrOrderClosed
	case now.Sub(t.CodeAt) >= codeURLLife:
		return TradeView{}, ErrCodeExpired
	case now.After(t.PayBy):
		return TradeView{}, ErrOrderExpired
	}
	n := t.clone()
	n.OpenID = openID
	s.markPaid(n, now)
	note := s.newNotification(n, n.NotifyURL, wechatpay.EventTransactionSuccess, "支付成功",
		wechatpay.OriginalTransaction, "", transactionOf(n), now)
	if err := s.commit(n, note); err != nil {
		return TradeView{}, fmt.Errorf("wechatpaysim: %w", err)
	}
	return viewOf(n), nil
}

// PendingCode is a Native order's code_url a buyer can pay now.
type PendingCode struct {
	CodeURL     string
	MchID       string
	OutTradeNo  string
	Description string
	Total       int64     // fen
	ExpiresAt   time.Time // the code_url's end or the order's time_expire, whichever comes first
}

// PendingCodes lists the code_urls Pay would pay now (their order NOTPAY,
// the code younger than 2 hours, the order's time_expire not passed),
// newest first.
func (s *Server) PendingCodes() []PendingCode {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []PendingCode{}
	for code, t := range s.book.byCode {
		t = s.current(t.key())
		if t == nil || t.CodeURL != code || t.State != wechatpay.TradeNotPay {
			continue
		}
		exp := t.CodeAt.Add(codeURLLife)
		if t.PayBy.Before(exp) {
			exp = t.PayBy
		}
		if !now.Before(exp) {
			continue
		}
		out = append(out, PendingCode{CodeURL: code, MchID: t.MchID, OutTradeNo: t.OutTradeNo, Description: t.Description,
			Total: t.Total, ExpiresAt: exp})
	}
	slices.SortFunc(out, func(a, b PendingCode) int {
		return cmp.Or(b.ExpiresAt.Compare(a.ExpiresAt), strings.Compare(a.CodeURL, b.CodeURL))
	})
	return out
}

// PaymentCodeKind is a payment code's first two digits, which decide what
// a codepay with it does (issue 12; §8.5 SIM).
type PaymentCodeKind struct {
	Prefix string
	Label  string
}

// PaymentCodeKinds are the kinds, in the order a buyer's page offers them.
var PaymentCodeKinds = []PaymentCodeKind{
	{"10", "Pays at once"},
	{"11", "Asks the buyer to confirm (USERPAYING), then pays a few seconds later"},
	{"12", "Never paid: the buyer does not confirm"},
	{"13", "Declined: not enough balance"},
}

// NewPaymentCode returns a fresh 18-digit payment code of the kind prefix
// (one of PaymentCodeKinds'); ok is false for another prefix. A code pays
// once: the simulator refuses it the second time.
func NewPaymentCode(prefix string) (code string, ok bool) {
	for _, k := range PaymentCodeKinds {
		if k.Prefix == prefix {
			return prefix + digits(18-len(prefix)), true
		}
	}
	return "", false
}

// serveSim routes /sim/wechat/…: GET trades, POST pay, GET|POST faults,
// GET notifications, GET public_key.
func (s *Server) serveSim(w http.ResponseWriter, r *http.Request) {
	switch r.Method + " " + r.URL.Path[len(simPrefix)-1:] {
	case "GET /trades":
		writeSim(w, http.StatusOK, s.Trades())
	case "POST /pay":
		s.servePay(w, r)
	case "GET /faults":
		writeSim(w, http.StatusOK, s.Faults())
	case "POST /faults":
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		f, perr := ParseFaults(data)
		switch {
		case err != nil:
			writeSimError(w, http.StatusBadRequest, "read body: "+err.Error())
		case perr != nil:
			writeSimError(w, http.StatusBadRequest, perr.Error())
		default:
			if err := s.SetFaults(f); err != nil {
				writeSimError(w, http.StatusBadRequest, err.Error())
				return
			}
			writeSim(w, http.StatusOK, s.Faults())
		}
	case "GET /notifications":
		writeSim(w, http.StatusOK, s.Notifications())
	default:
		writeSimError(w, http.StatusNotFound, "no such route: "+r.Method+" "+r.URL.Path)
	}
}

// PayRequest is the body of POST /sim/wechat/pay (and of POST /sim/pay
// for a weixin:// code): the code the buyer scanned and who pays.
type PayRequest struct {
	QRCode string `json:"qr_code"`
	OpenID string `json:"openid,omitempty"`
}

func (s *Server) servePay(w http.ResponseWriter, r *http.Request) {
	var req PayRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || req.QRCode == "" {
		writeSimError(w, http.StatusBadRequest, `body must be JSON like {"qr_code": "weixin://wxpay/bizpayurl?pr=…", "openid": "o…"}`)
		return
	}
	v, err := s.Pay(req.QRCode, req.OpenID)
	if err != nil {
		writeSimError(w, payStatus(err), err.Error())
		return
	}
	writeSim(w, http.StatusOK, v)
}

func payStatus(err error) int {
	switch {
	case errors.Is(err, ErrUnknownCode):
		return http.StatusNotFound
	case errors.Is(err, ErrBadOpenID):
		return http.StatusBadRequest
	case errors.Is(err, ErrCodeExpired), errors.Is(err, ErrOrderExpired), errors.Is(err, ErrOrderClosed), errors.Is(err, ErrOrderPaid):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func writeSim(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeSimError(w http.ResponseWriter, status int, msg string) {
	writeSim(w, status, map[string]string{"error": msg})
}
