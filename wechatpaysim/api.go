package wechatpaysim

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/paygate/paygate/wechatpay"
)

// maxRequest bounds a request body; WeChat Pay's are a few KiB.
const maxRequest = 1 << 20

// maxHold bounds the timeout fault: the answer is held until the client
// gives up or this passes.
const maxHold = 60 * time.Second

// errUnknownMerchant refuses a request whose mchid or serial_no is not a
// registered merchant API certificate.
var errUnknownMerchant = errors.New("unknown mchid or serial_no")

// call is an authenticated API request.
type call struct {
	r        *http.Request
	body     []byte
	merchant Merchant
}

// answer is what a business handler decided: a status and a JSON body (nil
// for 204). ran says the call took effect, so the unknown and timeout
// faults apply.
type answer struct {
	status int
	body   []byte
	ran    bool
}

// errorBody is WeChat Pay's error answer (§1.3).
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

func jsonAnswer(status int, v any) answer {
	b, err := marshal(v)
	if err != nil {
		return apiError(http.StatusInternalServerError, "SYSTEM_ERROR", "系统异常，请稍后重试")
	}
	return answer{status: status, body: b}
}

func apiError(status int, code, msg string) answer {
	b, _ := marshal(errorBody{Code: code, Message: msg})
	return answer{status: status, body: b}
}

// paramError is 400 PARAM_ERROR naming the field (a JSON Pointer) at fault.
func paramError(field, location, issue string) answer {
	b, _ := marshal(errorBody{Code: "PARAM_ERROR", Message: "参数错误",
		Detail: map[string]string{"field": field, "location": location, "issue": issue}})
	return answer{status: http.StatusBadRequest, body: b}
}

func systemError() answer {
	return apiError(http.StatusInternalServerError, "SYSTEM_ERROR", "系统繁忙,请稍后重试")
}

// marshal encodes compactly with raw UTF-8 and "&", as WeChat Pay does.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// serveAPI runs one /v3/ request in WeChat Pay's order (§10.1): route,
// headers, Authorization, faults, business, signed answer.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic in WeChat Pay API handler", "panic", v, "path", r.URL.Path)
			s.write(w, systemError(), false)
		}
	}()
	handle, op := s.route(r)
	if handle == nil {
		s.write(w, apiError(http.StatusNotFound, "NOT_FOUND", "请求的资源不存在"), true)
		return
	}
	if r.Header.Get("Accept") == "" || r.Header.Get("User-Agent") == "" {
		s.write(w, apiError(http.StatusBadRequest, "INVALID_REQUEST", "Http头缺少Accept或User-Agent"), true)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequest))
	if err != nil {
		s.write(w, apiError(http.StatusBadRequest, "INVALID_REQUEST", "请求报文过大或无法读取"), true)
		return
	}
	c, refusal := s.authenticate(r, body)
	if refusal != nil {
		s.write(w, *refusal, true)
		return
	}
	f := s.Faults()
	if f.LatencyMS > 0 && !s.hold(r.Context(), time.Duration(f.LatencyMS)*time.Millisecond) {
		if r.Context().Err() == nil {
			s.write(w, systemError(), true)
		}
		return
	}
	if s.dice.Roll(f.GatewayErrorRate) {
		s.write(w, systemError(), true) // nothing was done
		return
	}
	a := handle(c)
	a.ran = true
	if s.dice.Roll(f.UnknownRate) {
		a = systemError() // done, but the merchant cannot know it
	}
	if s.dice.Roll(f.TimeoutRate) {
		s.hold(r.Context(), maxHold)
	}
	s.log.Debug("wechat pay call", "op", op, "mchid", c.merchant.MchID, "status", a.status)
	s.write(w, a, op != opBillDownload)
}

// hold waits d, or until the request or the simulator ends; false when cut.
func (s *Server) hold(ctx context.Context, d time.Duration) bool {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)()
	return sleep(ctx, d)
}

// authenticate verifies the Authorization (§2, §10.1 step 3) over the raw
// request target and body; a refusal is 401 SIGN_ERROR.
func (s *Server) authenticate(r *http.Request, body []byte) (*call, *answer) {
	var m Merchant
	key := func(mchID, serial string) (*rsa.PublicKey, error) {
		got, ok := s.merchant(mchID)
		if !ok || got.SerialNo != serial {
			return nil, errUnknownMerchant
		}
		m = got
		return got.PublicKey, nil
	}
	auth, err := wechatpay.VerifyRequest(r.Header.Get("Authorization"), r.Method, r.RequestURI, body, key, s.now())
	if err == nil {
		return &call{r: r, body: body, merchant: m}, nil
	}
	var a answer
	switch {
	case errors.Is(err, errUnknownMerchant):
		a = apiError(http.StatusUnauthorized, "SIGN_ERROR", "商户证书序列号有误。请使用签名私钥匹配的证书序列号")
	case errors.Is(err, wechatpay.ErrRequestTimestamp):
		a = apiError(http.StatusUnauthorized, "SIGN_ERROR", "Http头Authorization中的timestamp与发起请求的时间不得超过5分钟")
	case errors.Is(err, wechatpay.ErrRequestSignature):
		// WeChat Pay shows the string it rebuilt: the best debugging aid (§2.4).
		msg := string(auth.Message(r.Method, r.RequestURI, body))
		b, _ := marshal(errorBody{Code: "SIGN_ERROR", Message: "错误的签名，验签失败", Detail: map[string]any{
			"detail": map[string]string{"issue": "sign not match"}, "field": "signature", "location": "authorization",
			"sign_information": map[string]any{"method": r.Method, "url": r.RequestURI,
				"sign_message_length": len(msg), "truncated_sign_message": truncate(msg, 256)},
		}})
		a = answer{status: http.StatusUnauthorized, body: b}
	default:
		a = apiError(http.StatusUnauthorized, "SIGN_ERROR", "Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》")
	}
	return nil, &a
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// write sends a: signed (Wechatpay-* headers over the exact body) unless
// it is the bill file, with a Request-ID.
func (s *Server) write(w http.ResponseWriter, a answer, sign bool) {
	h := w.Header()
	h.Set(wechatpay.HeaderRequestID, requestID())
	if a.body != nil && sign {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	if sign {
		if err := s.signer.SignHeaders(h, a.body, s.now()); err != nil {
			s.log.Error("sign answer", "err", err)
		}
	}
	if a.status == 0 {
		a.status = http.StatusOK
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// decode reads a JSON request body into v; a body that is not JSON of
// that shape is 400 PARAM_ERROR.
func decode(body []byte, v any) *answer {
	if err := json.Unmarshal(body, v); err != nil {
		a := paramError("/body", "body", fmt.Sprintf("请求体不是合法的JSON: %v", err))
		return &a
	}
	return nil
}

// checkMchID refuses a request whose mchid is not the signer's (§10.1 4).
func (c *call) checkMchID(mchID, field, location string) *answer {
	if mchID == "" {
		a := paramError(field, location, "mchid is required")
		return &a
	}
	if mchID != c.merchant.MchID {
		a := apiError(http.StatusBadRequest, "INVALID_REQUEST", "请求中的商户号与Authorization中的商户号不一致")
		return &a
	}
	return nil
}

// route finds the handler of r's method and path, or nil.
func (s *Server) route(r *http.Request) (func(*call) answer, string) {
	p, m := r.URL.Path, r.Method
	const outTrade = wechatpay.PathOutTradeNo
	switch {
	case m == http.MethodPost && p == wechatpay.PathNative:
		return s.native, "native"
	case m == http.MethodPost && p == wechatpay.PathCodePay:
		return s.codePay, "codepay"
	case m == http.MethodPost && p == wechatpay.PathRefunds:
		return s.refund, "refund"
	case m == http.MethodGet && p == wechatpay.PathTradeBill:
		return s.tradeBill, "tradebill"
	case m == http.MethodGet && p == pathBillDownload:
		return s.billDownload, opBillDownload
	case m == http.MethodGet && strings.HasPrefix(p, wechatpay.PathTransaction) && oneSegment(p[len(wechatpay.PathTransaction):]):
		return s.queryByID, "query"
	case m == http.MethodGet && strings.HasPrefix(p, wechatpay.PathRefunds+"/") && oneSegment(p[len(wechatpay.PathRefunds)+1:]):
		return s.queryRefund, "refund query"
	case strings.HasPrefix(p, outTrade):
		rest := p[len(outTrade):]
		no, verb, _ := strings.Cut(rest, "/")
		switch {
		case no == "":
		case m == http.MethodGet && !strings.Contains(rest, "/"):
			return s.queryByOutTradeNo, "query"
		case m == http.MethodPost && verb == "close":
			return s.close, "close"
		case m == http.MethodPost && verb == "reverse":
			return s.reverse, "reverse"
		}
	}
	return nil, ""
}

func oneSegment(s string) bool { return s != "" && !strings.Contains(s, "/") }

// pathVar is the decoded last path segment before suffix.
func pathVar(r *http.Request, prefix, suffix string) string {
	return strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, prefix), suffix)
}
