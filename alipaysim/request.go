package alipaysim

import (
	"bytes"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/paygate/paygate/alipay"
)

// maxBody caps a gateway request body. Real requests are a few KiB.
const maxBody = 1 << 20

// call is one gateway request that passed the protocol checks of §8.1.
type call struct {
	app    App
	method string
	form   url.Values
	biz    biz
	now    time.Time
	base   string // scheme://host for links the simulator hands out
}

// notifyURL is the request's notify_url system parameter.
func (c *call) notifyURL() string { return c.form.Get("notify_url") }

// readForm merges query and body (§1.2). A parameter given twice must carry
// the same value both times.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, *reply) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			rp := errorReply(failure(alipay.CodeInvalidArgument, subInvalidParam, "请求体超过1MB上限"))
			rp.status = http.StatusRequestEntityTooLarge
			return nil, &rp
		}
		rp := errorReply(failure(alipay.CodeInvalidArgument, subInvalidParam, "请求参数编码错误"))
		return nil, &rp
	}
	keys := make([]string, 0, len(r.Form))
	for k := range r.Form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vs := r.Form[k]
		for _, v := range vs[1:] {
			if v != vs[0] {
				method := ""
				if k != "method" {
					method = r.Form.Get("method")
				}
				rp := unsignedReply(method, failure(alipay.CodeInvalidArgument, subInvalidParam, "参数"+k+"重复且取值不一致"))
				return nil, &rp
			}
		}
	}
	return r.Form, nil
}

// authenticate runs the checks of §8.1 in Alipay's order and returns the call,
// or the reply that rejects it. Rejections are signed once the app is known,
// except those about the method, which go under error_response.
func (s *Server) authenticate(r *http.Request, form url.Values) (*call, *reply) {
	method := form.Get("method")
	appID := form.Get("app_id")
	if appID == "" {
		rp := unsignedReply(method, failure(alipay.CodeMissingArgument, subMissingAppID, "缺少AppID参数"))
		return nil, &rp
	}
	app, ok := s.app(appID)
	if !ok {
		rp := unsignedReply(method, failure(alipay.CodeInvalidArgument, alipay.SubInvalidAppID, "无效的AppID参数"))
		return nil, &rp
	}
	if method == "" {
		rp := errorReply(failure(alipay.CodeMissingArgument, subMissingMethod, "缺少方法名参数"))
		return nil, &rp
	}
	if !knownMethod(method) {
		rp := errorReply(failure(alipay.CodeInvalidArgument, subInvalidMethod, "不存在的方法名"))
		return nil, &rp
	}
	reject := func(code, sub, msg string) (*call, *reply) {
		rp := methodReply(method, failure(code, sub, msg))
		return nil, &rp
	}
	for _, m := range []struct{ param, sub, msg string }{
		{"sign", subMissingSignature, "缺少签名参数"},
		{"sign_type", subMissingSignType, "缺少签名类型参数"},
		{"timestamp", subMissingTimestamp, "缺少时间戳参数"},
		{"version", subMissingVersion, "缺少版本参数"},
	} {
		if form.Get(m.param) == "" {
			return reject(alipay.CodeMissingArgument, m.sub, m.msg)
		}
	}
	now := s.now()
	if form.Get("sign_type") != "RSA2" {
		return reject(alipay.CodeInvalidArgument, subInvalidSignType, "无效的签名类型参数，仅支持RSA2")
	}
	if !timestampOK(form.Get("timestamp"), now, s.cfg.TimestampSkew) {
		return reject(alipay.CodeInvalidArgument, subInvalidTimestamp, "非法的时间戳参数")
	}
	if cs := form.Get("charset"); cs != "" && !strings.EqualFold(cs, "utf-8") {
		return reject(alipay.CodeInvalidArgument, subInvalidCharset, "无效的字符集参数，仅支持utf-8")
	}
	if f := form.Get("format"); f != "" && !strings.EqualFold(f, "JSON") {
		return reject(alipay.CodeInvalidArgument, subInvalidFormat, "无效的数据格式参数，仅支持JSON")
	}
	if form.Get("version") != "1.0" {
		return reject(alipay.CodeInvalidArgument, subInvalidParam, "无效的版本参数，仅支持1.0")
	}
	if app.AppCertSN != "" {
		switch sn := form.Get("app_cert_sn"); {
		case sn == "":
			return reject(alipay.CodeMissingArgument, subMissingAppCertSN, "缺少应用公钥证书序列号参数")
		case sn != app.AppCertSN:
			return reject(alipay.CodeInvalidArgument, subAppCertNotExist, "应用公钥证书不存在")
		}
		if !rootSNMatches(form.Get("alipay_root_cert_sn"), app.RootCertSN) {
			return reject(alipay.CodeInvalidArgument, subInvalidRootCertSN, "支付宝根证书序列号不正确")
		}
	}
	content := alipay.SignContent(form, "sign")
	if err := alipay.Verify(app.PublicKey, []byte(content), form.Get("sign")); err != nil {
		return reject(alipay.CodeInvalidArgument, alipay.SubInvalidSignature, subMsgInvalidSignHead+html.EscapeString(content))
	}
	b, err := parseBiz(form.Get("biz_content"))
	if err != nil {
		return reject(alipay.CodeInvalidArgument, subInvalidParam, "biz_content不是合法的JSON对象")
	}
	return &call{app: app, method: method, form: form, biz: b, now: now, base: s.baseURL(r)}, nil
}

// timestampOK checks the layout strictly (yyyy-MM-dd HH:mm:ss, UTC+8) and
// that the time is within skew of now.
func timestampOK(ts string, now time.Time, skew time.Duration) bool {
	if len(ts) != len(alipay.TimeLayout) {
		return false
	}
	t, err := time.ParseInLocation(alipay.TimeLayout, ts, alipay.ChinaTime)
	if err != nil {
		return false
	}
	d := t.Sub(now)
	return d <= skew && d >= -skew
}

// rootSNMatches accepts a request's alipay_root_cert_sn when it names at least
// one of the app's root SNs; both are "_"-joined lists (§1.7).
func rootSNMatches(got, want string) bool {
	if got == "" {
		return false
	}
	wants := strings.Split(want, "_")
	for sn := range strings.SplitSeq(got, "_") {
		if sn != "" && slices.Contains(wants, sn) {
			return true
		}
	}
	return false
}

// baseURL is where this simulator is reachable for links it hands out.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimSuffix(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// biz is a parsed biz_content object.
type biz map[string]json.RawMessage

// errNotObject means biz_content is not a JSON object.
var errNotObject = errors.New("biz_content is not a JSON object")

// parseBiz reads biz_content; absent is an empty object.
func parseBiz(s string) (biz, error) {
	trimmed := bytes.TrimSpace([]byte(s))
	if len(trimmed) == 0 {
		return biz{}, nil
	}
	if trimmed[0] != '{' {
		return nil, errNotObject
	}
	var b biz
	if err := json.Unmarshal(trimmed, &b); err != nil {
		return nil, err
	}
	return b, nil
}

// str reads a field as text. Alipay's fields are strings, but numbers are
// taken as their literal text (some SDKs send amounts as numbers); null and
// absent read as "". Other JSON types are an error.
func (b biz) str(name string) (string, bool) {
	raw, ok := b[name]
	if !ok {
		return "", true
	}
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0, string(raw) == "null":
		return "", true
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		return s, true
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		return string(raw), true
	}
	return "", false
}
