package alipaysim_test

import (
	"bytes"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
)

// TestRequestChecks drives each check of §8.1 with a crafted request.
func TestRequestChecks(t *testing.T) {
	t.Parallel()
	e := setup(t)
	queryBiz := bizJSON("out_trade_no", "NOPE")
	set := func(k, v string) func(url.Values) { return func(p url.Values) { p.Set(k, v) } }
	del := func(k string) func(url.Values) { return func(p url.Values) { p.Del(k) } }
	tests := []struct {
		name    string
		mutate  func(url.Values)
		key     string // response node key
		code    string
		sub     string
		signed  bool
		subMsg  string
		method  string
		postfix func(url.Values) // after signing
	}{
		{name: "missing app_id", mutate: del("app_id"), key: "alipay_trade_query_response", code: "40001", sub: "isv.missing-app-id"},
		{name: "unknown app_id", mutate: set("app_id", "2021999999999999"), key: "alipay_trade_query_response", code: "40002", sub: "isv.invalid-app-id", subMsg: "无效的AppID参数"},
		{name: "unknown app_id, unknown method", mutate: func(p url.Values) { p.Set("app_id", "1"); p.Set("method", "x") }, key: "error_response", code: "40002", sub: "isv.invalid-app-id", method: "x"},
		{name: "missing method", mutate: del("method"), key: "error_response", code: "40001", sub: "isv.missing-method", method: "-"},
		{name: "unknown method", mutate: set("method", "alipay.trade.create"), key: "error_response", code: "40002", sub: "isv.invalid-method", method: "alipay.trade.create"},
		{name: "missing sign", postfix: del("sign"), key: "alipay_trade_query_response", code: "40001", sub: "isv.missing-signature", signed: true},
		{name: "missing sign_type", mutate: del("sign_type"), key: "alipay_trade_query_response", code: "40001", sub: "isv.missing-signature-type", signed: true},
		{name: "missing timestamp", mutate: del("timestamp"), key: "alipay_trade_query_response", code: "40001", sub: "isv.missing-timestamp", signed: true},
		{name: "missing version", mutate: del("version"), key: "alipay_trade_query_response", code: "40001", sub: "isv.missing-version", signed: true},
		{name: "RSA sign_type", mutate: set("sign_type", "RSA"), key: "alipay_trade_query_response", code: "40002", sub: "isv.invalid-signature-type", signed: true},
		{name: "timestamp layout", mutate: set("timestamp", "2024/05/13 10:00:00"), key: "alipay_trade_query_response", code: "40002", sub: "isv.invalid-timestamp", signed: true, subMsg: "非法的时间戳参数"},
		{name: "timestamp short fields", mutate: set("timestamp", "2024-5-13 10:00:00"), key: "alipay_trade_query_response", code: "40002", sub: "isv.invalid-timestamp", signed: true},
		{name: "timestamp stale", mutate: set("timestamp", "2024-05-13 09:44:59"), key: "alipay_trade_query_response", code: "40002", sub: "isv.invalid-timestamp", signed: true},
		{name: "timestamp future", mutate: set("timestamp", "2024-05-13 10:15:01"), key: "alipay_trade_query_response", code: "40002", sub: "isv.invalid-timestamp", signed: true},
		{name: "timestamp within skew", mutate: set("timestamp", "2024-05-13 09:45:00"), key: "alipay_trade_query_response", code: "40004", sub: "ACQ.TRADE_NOT_EXIST", signed: true},
		{name: "charset gbk", mutate: set("charset", "gbk"), key: "alipay_trade_query_response", code: "40002", sub: "isv.invalid-charset", signed: true},
		{name: "charset upper case", mutate: set("charset", "UTF-8"), key: "alipay_trade_query_response", code: "40004", sub: "ACQ.TRADE_NOT_EXIST", signed: true},
		{name: "charset absent", mutate: del("charset"), key: "alipay_trade_query_response", code: "40004", sub: "ACQ.TRADE_NOT_EXIST", signed: true},
		{name: "format xml", mutate: set("format", "XML"), key: "alipay_trade_query_response", code: "40002", sub: "isv.invalid-format", signed: true},
		{name: "format absent", mutate: del("format"), key: "alipay_trade_query_response", code: "40004", sub: "ACQ.TRADE_NOT_EXIST", signed: true},
		{name: "version 2.0", mutate: set("version", "2.0"), key: "alipay_trade_query_response", code: "40002", sub: "isv.invalid-parameter", signed: true},
		{name: "biz_content not JSON", mutate: set("biz_content", "{out_trade_no:1"), key: "alipay_trade_query_response", code: "40002", sub: "isv.invalid-parameter", signed: true},
		{name: "biz_content array", mutate: set("biz_content", "[1]"), key: "alipay_trade_query_response", code: "40002", sub: "isv.invalid-parameter", signed: true},
		{name: "biz_content absent", mutate: del("biz_content"), key: "alipay_trade_query_response", code: "40004", sub: "ACQ.INVALID_PARAMETER", signed: true},
		{name: "biz field of wrong type", mutate: set("biz_content", `{"out_trade_no":{"a":1}}`), key: "alipay_trade_query_response", code: "40004", sub: "ACQ.INVALID_PARAMETER", signed: true},
		{name: "param changed after signing", postfix: set("notify_url", "http://evil.example/n"), key: "alipay_trade_query_response", code: "40002", sub: "isv.invalid-signature", signed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := e.params(alipay.MethodQuery, queryBiz, tc.mutate)
			if tc.postfix != nil {
				tc.postfix(p)
			}
			resp, body := e.raw("", p.Encode())
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("HTTP %d", resp.StatusCode)
			}
			method := alipay.MethodQuery
			if tc.method != "" {
				method = tc.method
			}
			n := decode(t, body, method)
			if n.Key != tc.key {
				t.Fatalf("node key %s, want %s: %s", n.Key, tc.key, body)
			}
			n.want(t, tc.code, tc.sub)
			if (n.Sign != "") != tc.signed {
				t.Fatalf("signed = %v, want %v: %s", n.Sign != "", tc.signed, body)
			}
			if tc.subMsg != "" && n.Fields["sub_msg"] != tc.subMsg {
				t.Fatalf("sub_msg %q, want %q", n.Fields["sub_msg"], tc.subMsg)
			}
		})
	}
}

// TestInvalidSignatureShowsStringToSign checks the gateway's debugging aid:
// the string it built, HTML-escaped, in a signed response.
func TestInvalidSignatureShowsStringToSign(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.newClient(testAppID, otherKey(), nil) // signs with the wrong key
	p, err := c.Params(alipay.MethodQuery, []byte(`{"out_trade_no":"A&B<1>"}`), "http://shop.example/notify")
	if err != nil {
		t.Fatal(err)
	}
	_, body := e.raw("", p.Encode())
	n := decode(t, body, alipay.MethodQuery)
	n.want(t, "40002", "isv.invalid-signature")
	if n.Sign == "" {
		t.Fatal("invalid-signature response is unsigned")
	}
	want := "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：" + html.EscapeString(alipay.SignContent(p, "sign"))
	if n.Fields["sub_msg"] != want {
		t.Fatalf("sub_msg\n got %s\nwant %s", n.Fields["sub_msg"], want)
	}
	if !strings.Contains(n.Fields["sub_msg"], "app_id="+testAppID+"&amp;biz_content={&#34;out_trade_no&#34;:&#34;A&amp;B&lt;1&gt;&#34;}&amp;charset=utf-8") {
		t.Fatalf("sub_msg is not HTML-escaped as expected: %s", n.Fields["sub_msg"])
	}
	_, err = c.Query(ctx(t), alipay.TradeRef{OutTradeNo: "X"})
	wantSub(t, err, alipay.OutcomeConfig, "isv.invalid-signature")
}

// TestParameterPlacement: system parameters in the query string and
// biz_content in the body (official SDKs), the same key in both with the
// same value (gopay), conflicting values, and GET.
func TestParameterPlacement(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := e.params(alipay.MethodQuery, bizJSON("out_trade_no", "NOPE"), nil)
	body := url.Values{"biz_content": p["biz_content"]}
	sys := url.Values{}
	for k, v := range p {
		if k != "biz_content" {
			sys[k] = v
		}
	}
	_, b := e.raw(sys.Encode(), body.Encode())
	decode(t, b, alipay.MethodQuery).want(t, "40004", "ACQ.TRADE_NOT_EXIST")

	_, b = e.raw("charset=utf-8", p.Encode())
	decode(t, b, alipay.MethodQuery).want(t, "40004", "ACQ.TRADE_NOT_EXIST")

	_, b = e.raw("charset=gbk", p.Encode())
	n := decode(t, b, alipay.MethodQuery)
	n.want(t, "40002", "isv.invalid-parameter")
	if n.Sign != "" {
		t.Fatal("conflicting-duplicate rejection is signed")
	}

	resp, err := http.Get(e.srv.URL + "/gateway.do?" + p.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	decode(t, buf.Bytes(), alipay.MethodQuery).want(t, "40004", "ACQ.TRADE_NOT_EXIST")
}

// TestMalformedRequests: an oversized body, a broken form encoding and a
// wrong HTTP method get clean JSON errors, never a 500.
func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	e := setup(t)
	big := "biz_content=" + strings.Repeat("a", 1<<20+10)
	resp, b := e.raw("", big)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: HTTP %d", resp.StatusCode)
	}
	decode(t, b, "x").want(t, "40002", "isv.invalid-parameter")

	resp, b = e.raw("", "app_id=%zz&method=alipay.trade.query")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("broken encoding: HTTP %d", resp.StatusCode)
	}
	decode(t, b, "x").want(t, "40002", "isv.invalid-parameter")

	req, _ := http.NewRequest(http.MethodPut, e.srv.URL+"/gateway.do", nil)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: HTTP %d", r.StatusCode)
	}
}

// TestResponseBytes checks §8.2: node first, sign last over the node's
// exact bytes, "\/" escapes, raw UTF-8, headers.
func TestResponseBytes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := e.params(alipay.MethodPrecreate, bizJSON("out_trade_no", "BYTES1", "total_amount", "0.01", "subject", "咖啡"), nil)
	resp, body := e.raw("", p.Encode())
	if ct := resp.Header.Get("Content-Type"); ct != "text/html;charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if resp.Header.Get("trace_id") == "" {
		t.Error("no trace_id header")
	}
	shape := regexp.MustCompile(`^\{"alipay_trade_precreate_response":(\{"code":"10000","msg":"Success","out_trade_no":"BYTES1","qr_code":"https:\\/\\/qr\.alipay\.com\\/bax0[0-9a-z]{20}"\}),"sign":"([A-Za-z0-9+/=]{344})"\}$`)
	m := shape.FindSubmatch(body)
	if m == nil {
		t.Fatalf("body shape: %s", body)
	}
	if err := alipay.Verify(&alipayKey().PublicKey, m[1], string(m[2])); err != nil {
		t.Fatal("sign does not cover the node's exact bytes")
	}

	_, body = e.raw("", e.params(alipay.MethodQuery, bizJSON("out_trade_no", "NOPE"), nil).Encode())
	if !bytes.Contains(body, []byte(`"sub_msg":"交易不存在"`)) {
		t.Fatalf("Chinese is not raw UTF-8: %s", body)
	}
	want := `{"alipay_trade_query_response":{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在","buyer_pay_amount":"0.00","invoice_amount":"0.00","out_trade_no":"NOPE","point_amount":"0.00","receipt_amount":"0.00"},"sign":"`
	if !bytes.HasPrefix(body, []byte(want)) {
		t.Fatalf("TRADE_NOT_EXIST body:\n got %s\nwant %s…", body, want)
	}
}

// TestCertMode: alipay_cert_sn between node and sign, and the app
// certificate checks of a certificate-mode app.
func TestCertMode(t *testing.T) {
	t.Parallel()
	const appSN, rootSN, alipaySN = "0123456789abcdef0123456789abcdef", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "fedcba9876543210fedcba9876543210"
	e := setup(t, func(c *alipaysim.Config) {
		c.AlipayCertSN = alipaySN
		c.Apps = append(c.Apps, alipaysim.App{AppID: otherAppID, PublicKey: &otherKey().PublicKey, AppCertSN: appSN, RootCertSN: rootSN})
	})
	cert := func(app, root string) *alipay.CertMode {
		return &alipay.CertMode{AppCertSN: app, AlipayRootCertSN: root, AlipayCertSN: alipaySN, AlipayPublicKey: &alipayKey().PublicKey}
	}
	good := e.newClient(otherAppID, otherKey(), cert(appSN, rootSN))
	if _, err := good.Precreate(ctx(t), alipay.PrecreateRequest{OutTradeNo: "C1", TotalAmount: 1, Subject: "s"}); err != nil {
		t.Fatalf("cert-mode precreate: %v", err)
	}
	// A root list naming one of the SNs is enough.
	if _, err := e.newClient(otherAppID, otherKey(), cert(appSN, "cccccccccccccccccccccccccccccccc_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")).Precreate(ctx(t), alipay.PrecreateRequest{OutTradeNo: "C1", TotalAmount: 1, Subject: "s"}); err != nil {
		t.Fatalf("cert-mode precreate with a longer root list: %v", err)
	}
	_, err := e.newClient(otherAppID, otherKey(), nil).Query(ctx(t), alipay.TradeRef{OutTradeNo: "C1"})
	wantSub(t, err, alipay.OutcomeConfig, "isv.missing-app-cert-sn")
	_, err = e.newClient(otherAppID, otherKey(), cert("ffffffffffffffffffffffffffffffff", rootSN)).Query(ctx(t), alipay.TradeRef{OutTradeNo: "C1"})
	wantSub(t, err, alipay.OutcomeConfig, "isv.app-cert-not-exist")
	_, err = e.newClient(otherAppID, otherKey(), cert(appSN, "cccccccccccccccccccccccccccccccc")).Query(ctx(t), alipay.TradeRef{OutTradeNo: "C1"})
	wantSub(t, err, alipay.OutcomeConfig, "invalid-alipay-root-cert-sn")

	_, body := e.raw("", e.params(alipay.MethodQuery, bizJSON("out_trade_no", "NOPE"), nil).Encode())
	if !regexp.MustCompile(`\},"alipay_cert_sn":"` + alipaySN + `","sign":"[^"]+"\}$`).Match(body) {
		t.Fatalf("alipay_cert_sn is not between node and sign: %s", body)
	}
	decode(t, body, alipay.MethodQuery)
}

// TestPanicBecomesUnknown: a panic in a business method answers a signed
// 20000 and the server keeps serving.
func TestPanicBecomesUnknown(t *testing.T) {
	t.Parallel()
	e := setup(t)
	alipaysim.SetPanicHook(e.sim, func(method string) {
		if method == alipay.MethodQuery {
			panic("boom")
		}
	})
	resp, body := e.raw("", e.params(alipay.MethodQuery, bizJSON("out_trade_no", "X"), nil).Encode())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	n := decode(t, body, alipay.MethodQuery)
	n.want(t, "20000", "isp.unknow-error")
	if n.Sign == "" || n.Fields["sub_msg"] != "系统繁忙" {
		t.Fatalf("panic answer: %s", body)
	}
	_, err := e.query("X")
	if alipay.OutcomeOf(err) != alipay.OutcomeUnknown {
		t.Fatalf("client outcome %v", err)
	}
	e.precreate("AFTER_PANIC", "1.00", "") // still serving
}
