// Fuzz targets for everything that reads bytes from the network. Seeds come
// from the golden files. The oracles are written against encoding/json,
// net/url and crypto/rsa directly, not against this package:
//
//	go test ./alipay -run '^$' -fuzz FuzzExtractResponse -fuzztime 20s
//	go test ./alipay -run '^$' -fuzz FuzzDecodeResponse -fuzztime 20s
//	go test ./alipay -run '^$' -fuzz FuzzParseNotification -fuzztime 20s
package alipay_test

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/alipay"
)

// fuzzMethods are the methods a fuzzed body is decoded for, by index.
var fuzzMethods = []string{
	alipay.MethodPrecreate, alipay.MethodPay, alipay.MethodQuery, alipay.MethodCancel,
	alipay.MethodRefund, alipay.MethodRefundQuery, alipay.MethodClose, alipay.MethodBillURL,
}

func methodIndex(m string) uint8 {
	for i, x := range fuzzMethods {
		if x == m {
			return uint8(i)
		}
	}
	return 0
}

// seedResponses adds every response golden body (and a few shapes around it).
func seedResponses(f *testing.F, add func(body []byte, method string, certMode bool)) {
	for _, file := range goldenFiles(f, "response_*.golden") {
		r := loadResponse(f, file)
		add(r.body(r.node), r.method, r.sn != "")
		add([]byte(`{"sign":"`+r.sign+`","`+r.key+`":`+r.node+`}`), r.method, r.sn != "")
	}
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"a":1}`, `{"alipay_trade_query_response":"x","sign":"x"}`,
		`{"alipay_trade_query_response":{"code":"10000"},"alipay_trade_query_response":{"code":"10000"}}`,
		`{"alipay_trade_query_response":{"code":"10000"}} {}`, `{"error_response":{"code":"40002"},"sign":1}`,
	} {
		add([]byte(s), alipay.MethodQuery, false)
	}
}

func FuzzExtractResponse(f *testing.F) {
	seedResponses(f, func(body []byte, method string, _ bool) { f.Add(body, method) })
	f.Fuzz(func(t *testing.T, body []byte, method string) {
		raw, err := alipay.ExtractResponse(body, method)
		if err != nil {
			return
		}
		if raw.Key != alipay.ResponseKey(method) && raw.Key != alipay.ErrorResponseKey {
			t.Fatalf("node key %q for method %q", raw.Key, method)
		}
		if len(raw.Node) == 0 || raw.Node[0] != '{' {
			t.Fatalf("node %q is not an object", raw.Node)
		}
		if !bytes.Contains(body, raw.Node) {
			t.Fatalf("node bytes %q are not a substring of the body", raw.Node)
		}
		if !json.Valid(raw.Node) {
			t.Fatalf("node %q is not valid JSON", raw.Node)
		}
		// The node is what encoding/json finds under that key.
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("ExtractResponse accepted a body encoding/json rejects: %v", err)
		}
		if !bytes.Equal(m[raw.Key], raw.Node) {
			t.Fatalf("node %q; encoding/json finds %q", raw.Node, m[raw.Key])
		}
	})
}

// oracleSigned reports whether body carries a node for method (or
// error_response) and a sign that verifies over the node's bytes, or over
// them with "\/" unescaped (§2.2), checked with crypto/rsa directly.
func oracleSigned(pub *rsa.PublicKey, body []byte, method string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	node, ok := m[alipay.ResponseKey(method)]
	if !ok {
		node = m[alipay.ErrorResponseKey]
	}
	var sign string
	if len(node) == 0 || json.Unmarshal(m["sign"], &sign) != nil || sign == "" {
		return false
	}
	return stdVerify(pub, node, sign) || stdVerify(pub, bytes.ReplaceAll(node, []byte(`\/`), []byte("/")), sign)
}

func FuzzDecodeResponse(f *testing.F) {
	seedResponses(f, func(body []byte, method string, cert bool) { f.Add(body, methodIndex(method), cert) })
	pub := stdPublicKey(f, alipayPublicPEM)
	plain := goldenClient(f, time.Now(), nil)
	cert := goldenClient(f, time.Now(), &alipay.CertMode{AppCertSN: "a", AlipayRootCertSN: "r", AlipayCertSN: loadGolden(f, "response_query_certmode.golden").get(f, "alipay_cert_sn")})
	f.Fuzz(func(t *testing.T, body []byte, mi uint8, certMode bool) {
		method := fuzzMethods[int(mi)%len(fuzzMethods)]
		c := plain
		if certMode {
			c = cert
		}
		_, o, err := decodeAs(c, method, body)
		if err == nil && o != alipay.OutcomeSuccess && o != alipay.OutcomePaying {
			t.Fatalf("nil error with outcome %v", o)
		}
		if (o == alipay.OutcomeSuccess || o == alipay.OutcomePaying || err == nil) && !oracleSigned(pub, body, method) {
			t.Fatalf("outcome %v (err %v) for a body without a valid signature: %q", o, err, body)
		}
	})
}

// oracleNotifySigned rebuilds §5.3's string to sign with its own code and
// verifies with crypto/rsa.
func oracleNotifySigned(pub *rsa.PublicKey, form url.Values) bool {
	build := func(skip ...string) string {
		var keys []string
		for k, vs := range form {
			if len(vs) == 0 || vs[0] == "" || k == "sign" || k == "sign_type" || (len(skip) > 0 && k == skip[0]) {
				continue
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + form[k][0]
		}
		return strings.Join(parts, "&")
	}
	sign := form.Get("sign")
	return stdVerify(pub, []byte(build()), sign) || stdVerify(pub, []byte(build("alipay_cert_sn")), sign)
}

func FuzzParseNotification(f *testing.F) {
	for _, file := range goldenFiles(f, "notify_*.golden") {
		n := loadNotify(f, file)
		f.Add(n.body())
		f.Add(n.body() + "&total_amount=1.00")
		f.Add(strings.Replace(n.body(), "sign_type=RSA2", "sign_type=", 1))
	}
	f.Add("")
	f.Add("sign=&app_id=1")
	pub := stdPublicKey(f, alipayPublicPEM)
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		n, err := alipay.ParseNotification(form, pub)
		if err != nil {
			return
		}
		if !oracleNotifySigned(pub, form) {
			t.Fatalf("accepted a notification without a valid signature: %q", body)
		}
		for k, vs := range form {
			if len(vs) != 1 {
				t.Fatalf("accepted a duplicated field %q", k)
			}
		}
		if n.AppID != form.Get("app_id") || n.OutTradeNo != form.Get("out_trade_no") || n.TotalAmount.Yuan() == "" {
			t.Fatalf("parsed fields differ from the form: %+v", n)
		}
	})
}
