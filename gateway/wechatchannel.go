package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/wechatpay"
)

// WechatAPI is the part of the WeChat Pay client a WechatChannel calls;
// *wechatpay.Client implements it.
type WechatAPI interface {
	MchID() string
	AppID() string
	NativePrepay(ctx context.Context, req wechatpay.NativeRequest) (*wechatpay.NativeResponse, error)
	CodePay(ctx context.Context, req wechatpay.CodePayRequest) (*wechatpay.Transaction, error)
	QueryByOutTradeNo(ctx context.Context, outTradeNo string) (*wechatpay.Transaction, error)
	Reverse(ctx context.Context, outTradeNo string) (*wechatpay.ReverseResponse, error)
	Close(ctx context.Context, outTradeNo string) error
	Refund(ctx context.Context, req wechatpay.RefundRequest) (*wechatpay.Refund, error)
	QueryRefund(ctx context.Context, outRefundNo string) (*wechatpay.Refund, error)
	ParseNotification(h http.Header, body []byte) (*wechatpay.Notification, error)
}

// WechatChannel is Channel spoken as WeChat Pay's APIv3 for a direct
// merchant: Native payment (the buyer scans a code_url), payment-code
// payment (codepay, the buyer shows a barcode), query, reverse, close,
// refund and refund query. docs/wechatpay-protocol.md is the fact sheet
// (cited as §).
//
// Refunds: WeChat Pay's out_refund_no is unique per merchant, paygate's
// OutRequestNo only per order, so every refund is sent under
// WechatOutRefundNo(ChannelNo, OutRequestNo).
type WechatChannel struct {
	api       WechatAPI
	notifyURL string
}

var _ Channel = (*WechatChannel)(nil)

// WechatConfig sets up a WechatChannel.
type WechatConfig struct {
	// NotifyURL is where WeChat Pay sends payment and refund
	// notifications: this gateway's /notify/wechat as WeChat Pay reaches
	// it, an absolute http(s) URL without a query. Required.
	NotifyURL string
}

// NewWechatChannel speaks to WeChat Pay through api.
func NewWechatChannel(api WechatAPI, cfg WechatConfig) (*WechatChannel, error) {
	if api == nil {
		return nil, errors.New("gateway: wechat pay client is required")
	}
	if err := wechatpay.CheckNotifyURL(cfg.NotifyURL); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return &WechatChannel{api: api, notifyURL: cfg.NotifyURL}, nil
}

// Name is "wechat".
func (c *WechatChannel) Name() string { return string(paygate.ChannelWechat) }

// Account is the mchid.
func (c *WechatChannel) Account() string { return c.api.MchID() }

// Method is the name of op's API as metrics and the order timeline show
// it; it works on a zero WechatChannel.
func (c *WechatChannel) Method(op Op) string { return wechatMethod(op) }

// wechatMethod names op. It is a switch, not a package map: observe.go's
// ChannelMethods calls it while package variables are being initialized,
// through the Channel interface, which the initialization order does not
// follow, so a map declared in this file could still be empty then.
func wechatMethod(op Op) string {
	switch op {
	case OpPrecreate:
		return "wechatpay.native"
	case OpPay:
		return "wechatpay.codepay"
	case OpQuery:
		return "wechatpay.query"
	case OpCancel:
		return "wechatpay.reverse"
	case OpClose:
		return "wechatpay.close"
	case OpRefund:
		return "wechatpay.refund"
	case OpRefundQuery:
		return "wechatpay.refund_query"
	}
	return ""
}

// wechatError is err, from the call of op, in the channel's neutral terms;
// nil stays nil (a nil *ChannelError: callers return it as an error only
// once they know it is not nil). The code of an error answer is kept when the answer was
// not refused by verification: an unsigned error body counts, as it does
// for the wechatpay package (whether WeChat Pay signs error answers is
// UNCONFIRMED, §3.1), one whose signature failed does not.
func wechatError(op Op, err error) *ChannelError {
	if err == nil {
		return nil
	}
	e := &ChannelError{Channel: string(paygate.ChannelWechat), Method: wechatMethod(op), Outcome: OutcomeUnknown, Err: err}
	var we *wechatpay.Error
	if !errors.As(err, &we) {
		return e
	}
	e.Answered = we.Status != 0 || we.Verified
	switch we.Outcome {
	case wechatpay.OutcomeSuccess:
		e.Outcome = OutcomeSuccess
	case wechatpay.OutcomePaying:
		e.Outcome = OutcomePaying
	case wechatpay.OutcomeFailed:
		e.Outcome = OutcomeFailed
	case wechatpay.OutcomeConfig:
		e.Outcome = OutcomeConfig
	}
	if we.Err == nil && we.Code != "" {
		e.Code, e.Message = we.Code, we.Message
	}
	switch e.Code {
	case wechatpay.CodeOrderNotExist:
		e.Reason = ReasonTradeNotExist
	case wechatpay.CodeOrderPaid, wechatpay.CodeOrderPaidV3, wechatpay.CodeOrderClosed, wechatpay.CodeOrderReversed:
		e.Reason = ReasonTradeStatus
	}
	return e
}

// wechatCode reports whether e is an answer with this code.
func wechatCode(e *ChannelError, code string) bool { return e != nil && e.Code == code }

// wechatState maps a trade_state (§4.4); a state this adapter does not know
// is no state (not final: asked again).
func wechatState(state string) TradeState {
	switch state {
	case wechatpay.TradeSuccess, wechatpay.TradeRefund:
		return TradePaid
	case wechatpay.TradeNotPay, wechatpay.TradeUserPaying:
		return TradeWaiting
	case wechatpay.TradeClosed, wechatpay.TradeRevoked, wechatpay.TradePayError:
		return TradeClosed
	}
	return 0
}

// wechatTrade is t as the use cases see it; the buyer, the payment time
// and the transaction only once it was paid.
func wechatTrade(t *wechatpay.Transaction) *Trade {
	out := &Trade{State: wechatState(t.TradeState), Status: t.TradeState, TradeNo: t.TransactionID,
		Amount: paygate.Money(t.Total())}
	if t.Payer != nil {
		out.BuyerID = t.Payer.OpenID
	}
	if out.State == TradePaid {
		out.PaidAt = t.SuccessTime.Time
	}
	return out
}

// maxDescription is description's limit in characters (§4.1, §8.2).
const maxDescription = 127

// maxRefundReason is reason's limit in characters: string(80) on WeChat
// Pay's refund page (not in the fact sheet, which gives no length).
const maxRefundReason = 80

// wechatText fits s into a WeChat Pay text field of at most max
// characters: UTF-8 of 1 to 3 bytes only, no emoji (§1.2), so characters
// outside the Basic Multilingual Plane are dropped, then the rest is cut.
func wechatText(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if r == utf8.RuneError || utf8.RuneLen(r) > 3 {
			continue
		}
		if n == max {
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// description is the order's subject as WeChat Pay's description; one that
// keeps no character at all becomes the channel number.
func description(subject, channelNo string) string {
	if d := wechatText(subject, maxDescription); d != "" {
		return d
	}
	return channelNo
}

// Precreate calls the Native prepay: the order exists at WeChat Pay as
// NOTPAY at once (§4.1), payable until ExpiresAt (time_expire).
func (c *WechatChannel) Precreate(ctx context.Context, req PrecreateRequest) (*Precreated, error) {
	resp, err := c.api.NativePrepay(ctx, wechatpay.NativeRequest{
		Description: description(req.Subject, req.ChannelNo), OutTradeNo: req.ChannelNo,
		TimeExpire: wechatpay.Time{Time: req.ExpiresAt}, NotifyURL: c.notifyURL,
		Amount: wechatpay.Amount{Total: int64(req.Amount), Currency: wechatpay.CurrencyCNY},
	})
	if err != nil {
		return &Precreated{}, wechatError(OpPrecreate, err)
	}
	return &Precreated{QRCode: resp.CodeURL}, nil
}

// Pay calls codepay. A paid answer is a paid trade; USERPAYING (the buyer
// enters the password, §8.2) is a waiting trade without error: the use
// case polls Query, then cancels, as the official loop does (§8.5). Any
// other answer is an error, most often unknown (query), as the wechatpay
// package classifies it.
func (c *WechatChannel) Pay(ctx context.Context, req PayRequest) (*Trade, error) {
	t, err := c.api.CodePay(ctx, wechatpay.CodePayRequest{
		Description: description(req.Subject, req.ChannelNo), OutTradeNo: req.ChannelNo,
		Payer:  wechatpay.CodePayPayer{AuthCode: req.AuthCode},
		Amount: wechatpay.Amount{Total: int64(req.Amount), Currency: wechatpay.CurrencyCNY},
		// scene_info is required (§8.2); paygate knows no device.
		SceneInfo: wechatpay.SceneInfo{DeviceID: "paygate"},
	})
	if err != nil {
		e := wechatError(OpPay, err)
		if e.Outcome == OutcomePaying {
			// USERPAYING as an error code (v2's form, §8.7): the same.
			return &Trade{State: TradeWaiting, Status: wechatpay.TradeUserPaying}, nil
		}
		return &Trade{}, e
	}
	if wechatpay.CodePayOutcome(t) == wechatpay.OutcomePaying {
		return &Trade{State: TradeWaiting, Status: wechatpay.TradeUserPaying}, nil
	}
	return wechatTrade(t), nil
}

// Query reads the order by out_trade_no (§4.2). An order WeChat Pay does not
// know (404 ORDER_NOT_EXIST) is ReasonTradeNotExist, OutcomeFailed.
func (c *WechatChannel) Query(ctx context.Context, channelNo string) (*Trade, error) {
	t, err := c.api.QueryByOutTradeNo(ctx, channelNo)
	if err != nil {
		return &Trade{}, wechatError(OpQuery, err)
	}
	return wechatTrade(t), nil
}

// Cancel reverses (撤销) a codepay order (§8.6): "如果此订单用户支付失败，
// 微信支付系统会将此订单关闭；如果用户支付成功，微信支付系统会将此订单资金
// 退还给用户" — an unpaid order is closed for good, a paid one refunded in
// full, either way REVOKED; so a reverse that succeeded always says
// Refunded (any payment went back).
//
// Answers that ask for the same reverse again are errors with Retry:
// SYSTEM_ERROR or any 5xx or 429 (v2's recall=Y, "当撤销无返回或错误时，
// 请再次调用", §8.5), and USERPAYING, a reverse refused while the buyer is
// still confirming (§8.6), which is a refusal for now (OutcomeFailed) and
// not a channel failure. ORDER_NOT_EXIST is success without a refund:
// WeChat Pay has no order under that number, so nobody was charged and
// there is nothing to reverse; the use case then closes the order. (The
// reverse's business codes are UNCONFIRMED, §8.6; §9 makes ORDER_NOT_EXIST
// definite, "a lost prepay never happened", and the official v2 demo takes
// ORDERNOTEXIST as a payment that failed, §8.5.) Any other
// refusal (past the 7-day window, …) is OutcomeFailed without Retry: the
// use case queries the order.
func (c *WechatChannel) Cancel(ctx context.Context, channelNo string) (*Cancellation, error) {
	_, err := c.api.Reverse(ctx, channelNo)
	if err == nil {
		return &Cancellation{Refunded: true}, nil
	}
	e := wechatError(OpCancel, err)
	switch {
	case wechatCode(e, wechatpay.CodeOrderNotExist):
		return &Cancellation{}, nil
	case e.Outcome == OutcomePaying:
		e.Outcome, e.Retry = OutcomeFailed, true
	case e.Outcome == OutcomeUnknown && e.Answered:
		e.Retry = true
	}
	return &Cancellation{}, e
}

// Close closes the order (§4.3). WeChat Pay answers 204 for an unpaid, an
// already closed and even an unknown order, so a close normally succeeds:
// a Native order exists from its prepay on, scanned or not, so
// ReasonTradeNotExist never comes from here (an ORDER_NOT_EXIST, were it
// sent, means the same as that 204: no order to pay). A paid order is
// refused with ORDERPAID (§4.3 SIM; the code is UNCONFIRMED, ORDER_CLOSED
// and ORDER_REVERSED are taken alike): ReasonTradeStatus, and a definite
// refusal (OutcomeFailed), where the wechatpay package calls ORDERPAID
// unknown because, for a new order, it asks for a query.
func (c *WechatChannel) Close(ctx context.Context, channelNo string) error {
	e := wechatError(OpClose, c.api.Close(ctx, channelNo))
	switch {
	case e == nil, wechatCode(e, wechatpay.CodeOrderNotExist):
		return nil
	case e.Reason == ReasonTradeStatus:
		e.Outcome = OutcomeFailed
	}
	return e
}

// outRefundNoMax is out_refund_no's length limit (§5.1: 64, UNCONFIRMED;
// the wechatpay package enforces it).
const outRefundNoMax = 64

// outRefundNoHashMax bounds the hash part of a hashed out_refund_no in hex
// digits: 128 bits.
const outRefundNoHashMax = 32

// WechatOutRefundNo is the out_refund_no a refund is sent under. WeChat
// Pay's out_refund_no is unique per merchant (§5.1: "商户系统内部唯一"),
// paygate's OutRequestNo only per order, so the number is derived from
// both, deterministically (a resend is the same refund, refunded once):
//
//   - channelNo + "-" + outRequestNo when outRequestNo is only of
//     [0-9A-Za-z_] (paygate's own alphabet, without "-") and the whole fits
//     in 64 characters; it gives outRequestNo back from a notification;
//   - otherwise channelNo + "--" + the first hex digits of
//     SHA-256(channelNo, NUL, outRequestNo), as many as fit, at most 32 (128
//     bits; 30 with a 32-character channelNo); a hash cannot be read back.
//
// Both forms use only [0-9A-Za-z_-]. Numbers of different channel numbers
// never clash while channel numbers do not end with "-" (paygate's are PG,
// digits and hex): the last "-" separates the parts, and outRequestNo and
// the hash have none.
func WechatOutRefundNo(channelNo, outRequestNo string) string {
	if n := len(channelNo) + 1 + len(outRequestNo); n <= outRefundNoMax && outRequestNo != "" && isRefundWord(outRequestNo) {
		return channelNo + "-" + outRequestNo
	}
	sum := sha256.Sum256([]byte(channelNo + "\x00" + outRequestNo))
	h := hex.EncodeToString(sum[:])
	room := outRefundNoMax - len(channelNo) - 2
	if room < 16 {
		// A channel number WeChat Pay would never take (over 32
		// characters): the whole hash, still deterministic and unique.
		return h
	}
	return channelNo + "--" + h[:min(room, outRefundNoHashMax)]
}

// isRefundWord reports whether s is only of [0-9A-Za-z_].
func isRefundWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_') {
			return false
		}
	}
	return true
}

// WechatOutRequestNo reads WechatOutRefundNo's first form back: the
// OutRequestNo of outRefundNo if it is channelNo's, else outRefundNo itself
// (a hashed number, which only WechatOutRefundNo of each of the order's
// refunds can tell, or a refund made at WeChat Pay's console).
func WechatOutRequestNo(channelNo, outRefundNo string) string {
	return refundNoOf(channelNo, outRefundNo)
}

// refundNoOf is WechatOutRequestNo.
func refundNoOf(channelNo, outRefundNo string) string {
	if r, ok := strings.CutPrefix(outRefundNo, channelNo+"-"); ok && r != "" && isRefundWord(r) &&
		WechatOutRefundNo(channelNo, r) == outRefundNo {
		return r
	}
	return outRefundNo
}

// wechatRefund is r as the use cases see it: SUCCESS is done, PROCESSING
// and ABNORMAL are not (yet), CLOSED is a failed refund (§5.1). ABNORMAL
// ("退款异常", the buyer's card refused it) is left pending on purpose:
// the fact sheet says it is not final ("ABNORMAL不是最终态") and is settled
// by hand in the merchant platform, which may still pay it out, so
// recording it failed (and freeing its amount for another refund) could
// refund twice.
func wechatRefund(op Op, r *wechatpay.Refund) (*RefundResult, error) {
	out := &RefundResult{Done: r.Status == wechatpay.RefundSuccess, Amount: paygate.Money(r.Amount.Refund), Status: r.Status}
	if r.Status == wechatpay.RefundClosed {
		return out, &ChannelError{Channel: string(paygate.ChannelWechat), Method: wechatMethod(op), Outcome: OutcomeFailed,
			Answered: true, Err: fmt.Errorf("wechatpay refund %s: status %s: the refund failed", r.OutRefundNo, r.Status)}
	}
	return out, nil
}

// Refund calls the domestic refund (§5.1) under WechatOutRefundNo, with the
// order's total and CNY; a resend with the same OutRequestNo and amount is
// the same refund, made once. Its answer is PROCESSING at first, as a rule.
func (c *WechatChannel) Refund(ctx context.Context, req RefundRequest) (*RefundResult, error) {
	r, err := c.api.Refund(ctx, wechatpay.RefundRequest{
		OutTradeNo: req.ChannelNo, OutRefundNo: WechatOutRefundNo(req.ChannelNo, req.OutRequestNo),
		Reason: wechatText(req.Reason, maxRefundReason), NotifyURL: c.notifyURL,
		Amount: wechatpay.RefundAmount{Refund: int64(req.Amount), Total: int64(req.Total), Currency: wechatpay.CurrencyCNY},
	})
	if err != nil {
		return &RefundResult{}, wechatError(OpRefund, err)
	}
	if r.OutTradeNo != "" && r.OutTradeNo != req.ChannelNo {
		return &RefundResult{}, wechatMismatch(OpRefund, r, req.ChannelNo)
	}
	return wechatRefund(OpRefund, r)
}

// RefundQuery reads the refund under WechatOutRefundNo(ref). A ref whose
// OutRequestNo is a notification's raw out_refund_no (a refund made at
// WeChat Pay's console, see ParseNotification) is not found there; it is
// then asked under that number as it is, and taken only if it is a refund
// of this trade that was not made by this gateway: a hashed number of
// paygate's own is never taken under its raw form, or the use case would
// record its own refund twice.
func (c *WechatChannel) RefundQuery(ctx context.Context, ref RefundRef) (*RefundResult, error) {
	no := WechatOutRefundNo(ref.ChannelNo, ref.OutRequestNo)
	r, err := c.api.QueryRefund(ctx, no)
	e := wechatError(OpRefundQuery, err)
	if wechatCode(e, wechatpay.CodeResourceNotExists) && ref.OutRequestNo != no && !strings.HasPrefix(ref.OutRequestNo, ref.ChannelNo+"-") {
		if raw, rerr := c.api.QueryRefund(ctx, ref.OutRequestNo); rerr == nil && raw.OutTradeNo == ref.ChannelNo {
			r, e = raw, nil
		}
	}
	if e != nil {
		return &RefundResult{}, e
	}
	if r.OutTradeNo != "" && r.OutTradeNo != ref.ChannelNo {
		return &RefundResult{}, wechatMismatch(OpRefundQuery, r, ref.ChannelNo)
	}
	return wechatRefund(OpRefundQuery, r)
}

// wechatMismatch is a verified refund answer about another trade: not an
// answer to the question, so unknown.
func wechatMismatch(op Op, r *wechatpay.Refund, channelNo string) error {
	return &ChannelError{Channel: string(paygate.ChannelWechat), Method: wechatMethod(op), Outcome: OutcomeUnknown, Answered: true,
		Err: fmt.Errorf("%w: refund %s is of out_trade_no %s, not %s", wechatpay.ErrMismatch, r.OutRefundNo, r.OutTradeNo, channelNo)}
}

// ParseNotification verifies a WeChat Pay notification's signature headers
// over its raw body (a stale timestamp fails too) and decrypts its
// resource with the client (§6). A payment (TRANSACTION.*) is its
// transaction; a refund (REFUND.*) names the trade, paid, with RefundNo
// the OutRequestNo read back from out_refund_no (see WechatOutRefundNo;
// the raw out_refund_no when it is hashed or was not made by paygate).
// Only REFUND.SUCCESS carries RefundNo: the use cases apply a RefundNo as a
// refund that succeeded, while REFUND.CLOSED and REFUND.ABNORMAL are learnt
// by the refund query, so they tell only that the trade was paid. The
// resource's mchid, and its appid when it has one, must be the client's
// (ErrNotifyMismatch).
func (c *WechatChannel) ParseNotification(in NotificationInput) (*Notification, error) {
	n, err := c.api.ParseNotification(in.Header, in.Body)
	if err != nil {
		return nil, wechatNotifyError(err)
	}
	switch {
	case strings.HasPrefix(n.EventType, "TRANSACTION."):
		t, err := n.Transaction()
		if err != nil {
			return nil, wechatNotifyError(err)
		}
		tr := wechatTrade(t)
		out := &Notification{ID: n.ID, ChannelNo: t.OutTradeNo, TradeNo: tr.TradeNo, Status: t.TradeState, State: tr.State,
			Amount: tr.Amount, BuyerID: tr.BuyerID, PaidAt: tr.PaidAt}
		return out, c.checkAccount(t.MchID, t.AppID)
	case strings.HasPrefix(n.EventType, "REFUND."):
		r, err := n.Refund()
		if err != nil {
			return nil, wechatNotifyError(err)
		}
		out := &Notification{ID: n.ID, ChannelNo: r.OutTradeNo, TradeNo: r.TransactionID, Status: r.RefundStatus,
			State: TradePaid, Amount: paygate.Money(r.Amount.Total)}
		if n.EventType == wechatpay.EventRefundSuccess && r.RefundStatus == wechatpay.RefundSuccess {
			out.RefundNo = refundNoOf(r.OutTradeNo, r.OutRefundNo)
		}
		return out, c.checkAccount(r.MchID, "")
	}
	return nil, fmt.Errorf("%w: wechatpay notification %s: event %s is neither a payment nor a refund", ErrNotifyMalformed, n.ID, n.EventType)
}

// checkAccount refuses a notification about another merchant or AppID.
func (c *WechatChannel) checkAccount(mchID, appID string) error {
	switch {
	case mchID != c.api.MchID():
		return fmt.Errorf("%w: %w: mchid %s is not %s", ErrNotifyMismatch, wechatpay.ErrMismatch, mchID, c.api.MchID())
	case appID != "" && appID != c.api.AppID():
		return fmt.Errorf("%w: %w: appid %s is not %s", ErrNotifyMismatch, wechatpay.ErrMismatch, appID, c.api.AppID())
	}
	return nil
}

// wechatNotifyError adds the neutral notification error to err's chain: a
// signature that does not verify (a probe, a stale timestamp, an unknown
// key) is ErrNotifySignature; a body or resource that does not decode or
// decrypt is ErrNotifyMalformed.
func wechatNotifyError(err error) error {
	switch {
	case errors.Is(err, wechatpay.ErrNotifySignature):
		return fmt.Errorf("%w: %w", ErrNotifySignature, err)
	case errors.Is(err, wechatpay.ErrNotifyMalformed), errors.Is(err, wechatpay.ErrNotifyDecrypt):
		return fmt.Errorf("%w: %w", ErrNotifyMalformed, err)
	}
	return err
}
