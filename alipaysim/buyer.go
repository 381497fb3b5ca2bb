package alipaysim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/paygate/paygate/alipay"
)

// Buyer errors of ScanQR and PayQR; /sim/pay maps them to HTTP statuses.
var (
	// ErrUnknownCode: no current precreate code is this (404).
	ErrUnknownCode = errors.New("alipaysim: unknown QR code")
	// ErrCodeExpired: the code's qr_code_timeout_express passed before a scan (409).
	ErrCodeExpired = errors.New("alipaysim: QR code expired")
	// ErrTradeClosed: the trade or code was closed, cancelled or timed out (409).
	ErrTradeClosed = errors.New("alipaysim: trade closed")
	// ErrTradePaid: the trade is already paid (409).
	ErrTradePaid = errors.New("alipaysim: trade already paid")
	// ErrOtherBuyer: another buyer scanned the code first (409).
	ErrOtherBuyer = errors.New("alipaysim: the trade belongs to another buyer")
	// ErrBadBuyerID: a buyer id must be 16 digits starting with 2088 (400).
	ErrBadBuyerID = errors.New("alipaysim: buyer_id must be 16 digits starting with 2088")
)

// ScanQR is a buyer scanning a precreated code without paying yet: the
// trade comes into existence as WAIT_BUYER_PAY with its trade_no, and its
// timeout starts. buyerID "" picks a buyer. Scanning again is harmless.
func (s *Server) ScanQR(ctx context.Context, qrCode, buyerID string) error {
	_, err := s.scan(ctx, qrCode, buyerID, false)
	return err
}

// PayQR is a buyer scanning a precreated code (unless already scanned) and
// paying it: the trade becomes TRADE_SUCCESS and is notified.
func (s *Server) PayQR(ctx context.Context, qrCode, buyerID string) error {
	_, err := s.scan(ctx, qrCode, buyerID, true)
	return err
}

func (s *Server) scan(ctx context.Context, qrCode, buyerID string, pay bool) (TradeView, error) {
	if err := ctx.Err(); err != nil {
		return TradeView{}, err
	}
	if buyerID != "" && !isUserID(buyerID) {
		return TradeView{}, ErrBadBuyerID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	t := s.book.byCode[qrCode]
	if t == nil {
		return TradeView{}, ErrUnknownCode
	}
	s.touch(t, now)
	if _, ok := s.book.cancelled[t.key()]; ok || t.Voided != "" {
		return TradeView{}, fmt.Errorf("%w: the out_trade_no was closed or cancelled", ErrTradeClosed)
	}
	switch t.Status {
	case "":
		if !now.Before(t.CodeExpires) {
			return TradeView{}, ErrCodeExpired
		}
		if buyerID == "" {
			buyerID = newBuyerID()
		}
		t.Status, t.TradeNo, t.Created = alipay.TradeWaitBuyerPay, s.book.newTradeNo(now), now
		t.Expires = deadline(now, t.TimeoutExpress, defaultTradeTimeout)
		if t.CodeExpires.Before(t.Expires) {
			t.Expires = t.CodeExpires // qr_code_timeout_express closes the trade too
		}
		t.BuyerID, t.BuyerLogonID = buyerID, logonIDFor(buyerID)
	case alipay.TradeWaitBuyerPay:
		if buyerID != "" && buyerID != t.BuyerID {
			return TradeView{}, ErrOtherBuyer
		}
	case alipay.TradeClosed:
		return TradeView{}, fmt.Errorf("%w (%s)", ErrTradeClosed, t.CloseReason)
	default:
		return TradeView{}, ErrTradePaid
	}
	var note *notification
	if pay {
		note = s.markPaid(t, now)
	}
	if err := s.commit(t, note); err != nil {
		return TradeView{}, err
	}
	return viewOf(t), nil
}

// serveSim routes the /sim surface (JSON unless noted).
func (s *Server) serveSim(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic in /sim handler", "panic", v, "path", r.URL.Path)
			writeJSONError(w, http.StatusInternalServerError, "internal error")
		}
	}()
	route := r.Method + " " + r.URL.Path
	if r.Method == http.MethodHead && (r.URL.Path == "/sim/" || strings.HasPrefix(r.URL.Path, "/sim/static/")) {
		route = "GET " + r.URL.Path
	}
	if strings.HasPrefix(route, "GET /sim/static/") {
		s.servePhoneStatic(w, r)
		return
	}
	switch route {
	case "GET /sim/":
		s.servePhone(w, r)
	case "POST /sim/phone/pay":
		s.servePhonePay(w, r)
	case "GET /sim/alipay_public_key":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, s.AlipayPublicKeyBase64()+"\n")
	case "POST /sim/pay":
		s.serveBuyer(w, r, true)
	case "POST /sim/scan":
		s.serveBuyer(w, r, false)
	case "GET /sim/trades":
		writeJSON(w, http.StatusOK, s.Trades())
	case "GET /sim/faults":
		writeJSON(w, http.StatusOK, s.Faults())
	case "POST /sim/faults":
		s.serveSetFaults(w, r)
	case "GET /sim/notifications":
		writeJSON(w, http.StatusOK, s.Notifications())
	case "GET /sim/bill/download":
		s.serveBillDownload(w, r)
	default:
		switch r.URL.Path {
		case "/sim/alipay_public_key", "/sim/pay", "/sim/scan", "/sim/trades", "/sim/faults", "/sim/notifications", "/sim/bill/download",
			"/sim/", "/sim/phone/pay":
			writeJSONError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path)
		default:
			writeJSONError(w, http.StatusNotFound, "no such route: "+r.URL.Path)
		}
	}
}

// buyerRequest is the body of POST /sim/pay and /sim/scan.
type buyerRequest struct {
	QRCode  string `json:"qr_code"`
	BuyerID string `json:"buyer_id"`
}

func (s *Server) serveBuyer(w http.ResponseWriter, r *http.Request, pay bool) {
	var req buyerRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	if err := dec.Decode(&req); err != nil {
		writeJSONError(w, http.StatusBadRequest, "body must be JSON like {\"qr_code\": \"...\", \"buyer_id\": \"2088...\"}: "+err.Error())
		return
	}
	if req.QRCode == "" {
		writeJSONError(w, http.StatusBadRequest, "qr_code is required")
		return
	}
	view, err := s.scan(r.Context(), req.QRCode, req.BuyerID, pay)
	if err != nil {
		writeJSONError(w, buyerStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, view)
}

// buyerStatus maps a buyer error to an HTTP status.
func buyerStatus(err error) int {
	switch {
	case errors.Is(err, ErrUnknownCode):
		return http.StatusNotFound
	case errors.Is(err, ErrBadBuyerID):
		return http.StatusBadRequest
	case errors.Is(err, ErrCodeExpired), errors.Is(err, ErrTradeClosed),
		errors.Is(err, ErrTradePaid), errors.Is(err, ErrOtherBuyer):
		return http.StatusConflict
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (s *Server) serveSetFaults(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	f, err := ParseFaults(data)
	if err == nil {
		err = s.SetFaults(f)
	}
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.log.Info("faults set", "faults", string(data))
	writeJSON(w, http.StatusOK, s.Faults())
}

// timePtr is nil for the zero time, so JSON omits it.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
