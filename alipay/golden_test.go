// Golden tests: the protocol as the spec (shared/docs/alipay-protocol.md)
// states it, checked against files the code did not write.
//
// Each testdata/{request,response,notify}_*.golden file is a comment followed
// by "-- name --" sections. Everything in a golden file is written BY HAND
// from the spec (§1.4 string to sign, §2.2 node bytes, §5.3 notification
// string to sign), EXCEPT the "sign" section, which is produced by openssl
// (`openssl dgst -sha256 -sign testdata/<key>.pem | base64 -w0`), never by this
// package:
//
//   - request_*:  sign = openssl over string_to_sign with app_private_key.pem
//   - response_*: sign = openssl over node (or signed_text, when present)
//     with alipay_private_key.pem; no sign section = an unsigned response
//   - notify_*:   sign = openssl over string_to_sign with alipay_private_key.pem
//
// `go test ./alipay -run Golden -update` re-runs openssl over the hand-written
// sections and rewrites only the "sign" sections; it never copies the code's
// output into a golden file. After editing a hand-written section, run it once
// with -update, then without. RSA PKCS#1 v1.5 is deterministic, so the same
// content always yields the same signature, and a request signature made by
// the Go code must equal openssl's byte for byte.
package alipay_test

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/alipay"
)

var update = flag.Bool("update", false, "rewrite golden files (only their openssl-derived sign sections)")

// Test keys under testdata (test keys only, never used anywhere else).
const (
	appPrivatePEM    = "testdata/app_private_key.pem"
	appPublicPEM     = "testdata/app_public_key.pem"
	alipayPrivatePEM = "testdata/alipay_private_key.pem"
	alipayPublicPEM  = "testdata/alipay_public_key.pem"
	goldenAppID      = "2021000000000001"
	goldenNotifyURL  = "https://shop.example/alipay/notify"
)

// ---- golden file format ----

type golden struct {
	path     string
	comment  string
	names    []string
	sections map[string]string
}

func loadGolden(t testing.TB, name string) *golden {
	t.Helper()
	path := filepath.Join("testdata", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	g := &golden{path: path, sections: map[string]string{}}
	cur := ""
	var buf []string
	flush := func() {
		if cur == "" {
			g.comment = strings.Join(buf, "\n")
		} else {
			g.sections[cur] = strings.Join(buf, "\n")
		}
		buf = nil
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	for _, line := range lines {
		if strings.HasPrefix(line, "-- ") && strings.HasSuffix(line, " --") && len(line) > 6 {
			flush()
			cur = line[3 : len(line)-3]
			if _, dup := g.sections[cur]; dup {
				t.Fatalf("%s: section %q twice", path, cur)
			}
			g.names = append(g.names, cur)
			g.sections[cur] = ""
			continue
		}
		buf = append(buf, line)
	}
	flush()
	return g
}

func (g *golden) has(name string) bool { _, ok := g.sections[name]; return ok }

func (g *golden) get(t testing.TB, name string) string {
	t.Helper()
	v, ok := g.sections[name]
	if !ok {
		t.Fatalf("%s: no section %q", g.path, name)
	}
	return v
}

func (g *golden) set(name, value string) {
	if !g.has(name) {
		g.names = append(g.names, name)
	}
	g.sections[name] = value
}

func (g *golden) write(t testing.TB) {
	t.Helper()
	var b strings.Builder
	if g.comment != "" {
		b.WriteString(g.comment + "\n")
	}
	for _, n := range g.names {
		b.WriteString("-- " + n + " --\n")
		if v := g.sections[n]; v != "" {
			b.WriteString(v + "\n")
		}
	}
	if err := os.WriteFile(g.path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// opensslSign returns the golden "sign" section: openssl's signature of
// content with keyFile. With -update it re-runs openssl and rewrites the file
// first.
func (g *golden) opensslSign(t testing.TB, content, keyFile string) string {
	t.Helper()
	if *update {
		sig := opensslSign(t, keyFile, []byte(content))
		if g.sections["sign"] != sig {
			g.set("sign", sig)
			g.write(t)
			t.Logf("updated %s", g.path)
		}
	}
	sig := g.get(t, "sign")
	if sig == "" {
		t.Fatalf("%s: empty sign; run go test ./alipay -run Golden -update", g.path)
	}
	return sig
}

func goldenFiles(t testing.TB, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(m) == 0 {
		t.Fatalf("no golden files %s: %v", pattern, err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

// ---- keys, read with the standard library only (not this package) ----

func stdPrivateKey(t testing.TB, path string) *rsa.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return k.(*rsa.PrivateKey)
}

func stdPublicKey(t testing.TB, path string) *rsa.PublicKey {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM", path)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return k.(*rsa.PublicKey)
}

// stdVerify is RSA2 verification written against crypto/rsa directly, the
// oracle for tests and fuzz targets.
func stdVerify(pub *rsa.PublicKey, content []byte, sign string) bool {
	sig, err := base64.StdEncoding.DecodeString(sign)
	if err != nil {
		return false
	}
	d := sha256.Sum256(content)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig) == nil
}

func stdSign(t testing.TB, key *rsa.PrivateKey, content []byte) string {
	t.Helper()
	d := sha256.Sum256(content)
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// goldenClient is a client with the testdata keys; cert switches to
// certificate mode.
func goldenClient(t testing.TB, now time.Time, cert *alipay.CertMode) *alipay.Client {
	t.Helper()
	cfg := alipay.Config{
		AppID:      goldenAppID,
		PrivateKey: stdPrivateKey(t, appPrivatePEM),
		Now:        func() time.Time { return now },
	}
	if cert != nil {
		cert.AlipayPublicKey = stdPublicKey(t, alipayPublicPEM)
		cfg.Cert = cert
	} else {
		cfg.AlipayPublicKey = stdPublicKey(t, alipayPublicPEM)
	}
	c, err := alipay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ---- requests (§1.3, §1.4) ----

type billURLRequest struct {
	BillType string `json:"bill_type"`
	BillDate string `json:"bill_date"`
}

// goldenRequestBiz is the fixed biz_content input of each request golden file.
var goldenRequestBiz = map[string]any{
	"request_precreate.golden": alipay.PrecreateRequest{
		OutTradeNo: "PG20240513174920001", TotalAmount: 8888, Subject: "收银台-拿铁咖啡 大杯",
		ProductCode: alipay.ProductFaceToFace, StoreID: "SH_PUDONG_01", QRCodeTimeoutExpress: "120m",
		NotifyURL: "https://ignored.example/not-in-json",
	},
	"request_pay.golden": alipay.PayRequest{
		OutTradeNo: "PG20240513174920002", Scene: "bar_code", AuthCode: "287634438256643940",
		Subject: "门店收银 Coffee x2", TotalAmount: 265000, ProductCode: alipay.ProductFaceToFace,
		Body: "a&b=c+d e/f <拿铁>", OperatorID: "op 01", TimeoutExpress: "5m",
	},
	"request_query.golden": alipay.TradeRef{OutTradeNo: "PG20240513174920001"},
	"request_refund.golden": alipay.RefundRequest{
		OutTradeNo: "PG20240513174920002", RefundAmount: 300, OutRequestNo: "RF20240513-0001",
		RefundReason: "退货 1/2: a+b=c&d",
	},
	"request_refund_query.golden": alipay.RefundQueryRequest{
		OutTradeNo: "PG20240513174920002", OutRequestNo: "RF20240513-0001", QueryOptions: []string{"gmt_refund_pay"},
	},
	"request_bill_url.golden":        billURLRequest{BillType: "trade", BillDate: "2024-05-12"},
	"request_cancel_certmode.golden": alipay.TradeRef{OutTradeNo: "PG20240513174920003"},
}

func TestGoldenRequests(t *testing.T) {
	files := goldenFiles(t, "request_*.golden")
	if len(files) != len(goldenRequestBiz) {
		t.Errorf("%d request golden files, %d inputs in goldenRequestBiz", len(files), len(goldenRequestBiz))
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			biz, ok := goldenRequestBiz[file]
			if !ok {
				t.Fatalf("no biz input for %s", file)
			}
			g := loadGolden(t, file)
			want := g.get(t, "string_to_sign")
			wantSign := g.opensslSign(t, want, appPrivatePEM)
			method, wantTS := g.get(t, "method"), g.get(t, "timestamp")
			if !strings.Contains(want, "&timestamp="+wantTS+"&") || !strings.Contains(want, "&sign_type=RSA2&") {
				t.Fatalf("%s: hand-written string_to_sign lacks timestamp/sign_type", file)
			}
			clock, err := time.Parse(time.RFC3339, g.get(t, "clock"))
			if err != nil {
				t.Fatal(err)
			}
			bizJSON, err := alipay.MarshalBizContent(biz)
			if err != nil {
				t.Fatal(err)
			}
			if string(bizJSON) != g.get(t, "biz_content") {
				t.Errorf("biz_content\n got %s\nwant %s", bizJSON, g.get(t, "biz_content"))
			}
			var cert *alipay.CertMode
			if g.has("app_cert_sn") {
				cert = &alipay.CertMode{AppCertSN: g.get(t, "app_cert_sn"), AlipayRootCertSN: g.get(t, "alipay_root_cert_sn"), AlipayCertSN: "unused"}
			}
			notify := ""
			if g.has("notify_url") {
				notify = g.get(t, "notify_url")
			}
			// The same instant seen from UTC, UTC-7 and UTC+5:30 must format the
			// same: the timestamp never depends on the clock's (or host's) zone.
			// A fraction of a second is cut, never rounded up.
			clocks := []time.Time{clock, clock.In(time.FixedZone("X", -7*3600)), clock.In(time.FixedZone("Y", 5*3600+1800)), clock.Add(999 * time.Millisecond)}
			for _, now := range clocks {
				c := goldenClient(t, now, cert)
				params, err := c.Params(method, bizJSON, notify)
				if err != nil {
					t.Fatal(err)
				}
				if got := params.Get("timestamp"); got != wantTS {
					t.Errorf("clock %s: timestamp %q; want %q", now, got, wantTS)
				}
				if got := alipay.FormatTime(now); got != wantTS {
					t.Errorf("FormatTime(%s) = %q; want %q", now, got, wantTS)
				}
				if got := alipay.SignContent(params, "sign"); got != want {
					t.Errorf("clock %s: string to sign\n got %s\nwant %s", now, got, want)
				}
				if got := params.Get("sign"); got != wantSign {
					t.Errorf("clock %s: sign differs from openssl's\n got %s\nwant %s", now, got, wantSign)
				}
				// The wire form decodes back to exactly the signed values.
				back, err := url.ParseQuery(params.Encode())
				if err != nil || !reflect.DeepEqual(back, params) {
					t.Errorf("Encode round trip: %v\n got %v\nwant %v", err, back, params)
				}
			}
		})
	}
}

// ---- responses (§2) ----

// decodeAs decodes body into method's typed response and returns it, with its
// outcome: OutcomeOf(err), or the node's own outcome (success or paying) when
// the call returned no error.
func decodeAs(c *alipay.Client, method string, body []byte) (any, alipay.Outcome, error) {
	var (
		out any
		res *alipay.Result
		err error
	)
	switch method {
	case alipay.MethodPrecreate:
		var r alipay.PrecreateResponse
		err, out, res = c.DecodeResponse(method, body, "", &r), &r, &r.Result
	case alipay.MethodPay:
		var r alipay.PayResponse
		err, out, res = c.DecodeResponse(method, body, "", &r), &r, &r.Result
	case alipay.MethodQuery:
		var r alipay.QueryResponse
		err, out, res = c.DecodeResponse(method, body, "", &r), &r, &r.Result
	case alipay.MethodCancel:
		var r alipay.CancelResponse
		err, out, res = c.DecodeResponse(method, body, "", &r), &r, &r.Result
	case alipay.MethodRefund:
		var r alipay.RefundResponse
		err, out, res = c.DecodeResponse(method, body, "", &r), &r, &r.Result
	case alipay.MethodRefundQuery:
		var r alipay.RefundQueryResponse
		err, out, res = c.DecodeResponse(method, body, "", &r), &r, &r.Result
	default:
		var r alipay.Result
		err, out, res = c.DecodeResponse(method, body, "", &r), &r, &r
	}
	if err != nil {
		return out, alipay.OutcomeOf(err), err
	}
	return out, res.Outcome(), nil
}

var outcomeNames = map[string]alipay.Outcome{
	"success": alipay.OutcomeSuccess, "paying": alipay.OutcomePaying, "failed": alipay.OutcomeFailed,
	"unknown": alipay.OutcomeUnknown, "config": alipay.OutcomeConfig,
}

// goldenResponse is one response golden file, its body assembled as §2.2 says
// Alipay writes it.
type goldenResponse struct {
	g              *golden
	method, key    string
	node, sign, sn string
	outcome        alipay.Outcome
}

func loadResponse(t testing.TB, file string) *goldenResponse {
	t.Helper()
	g := loadGolden(t, file)
	r := &goldenResponse{g: g, method: g.get(t, "method"), key: g.get(t, "key"), node: g.get(t, "node")}
	o, ok := outcomeNames[g.get(t, "outcome")]
	if !ok {
		t.Fatalf("%s: bad outcome %q", file, g.get(t, "outcome"))
	}
	r.outcome = o
	if g.has("alipay_cert_sn") {
		r.sn = g.get(t, "alipay_cert_sn")
	}
	if g.has("sign") { // no sign section: an unsigned response
		signed := r.node
		if g.has("signed_text") {
			signed = g.get(t, "signed_text")
		}
		r.sign = g.opensslSign(t, signed, alipayPrivatePEM)
	}
	return r
}

// body assembles {"<key>":<node>[,"alipay_cert_sn":"…"][,"sign":"…"]}.
func (r *goldenResponse) body(node string) []byte {
	b := `{"` + r.key + `":` + node
	if r.sn != "" {
		b += `,"alipay_cert_sn":"` + r.sn + `"`
	}
	if r.sign != "" {
		b += `,"sign":"` + r.sign + `"`
	}
	return []byte(b + "}")
}

func (r *goldenResponse) client(t testing.TB) *alipay.Client {
	t.Helper()
	var cert *alipay.CertMode
	if r.sn != "" {
		cert = &alipay.CertMode{AppCertSN: "5b1c1a43d0a6e4a2f2b2a1c6b5c3e1f0", AlipayRootCertSN: "687b59193f3f462dd5336e5abf83c5d8", AlipayCertSN: r.sn}
	}
	return goldenClient(t, time.Now(), cert)
}

// goldenResponseChecks are the hand-written expectations beyond the outcome.
var goldenResponseChecks = map[string]func(t *testing.T, out any, err error){
	"response_precreate_success.golden": func(t *testing.T, out any, err error) {
		r := out.(*alipay.PrecreateResponse)
		if r.QRCode != "https://qr.alipay.com/bax03431ljhokirwl38f00a7" || r.OutTradeNo != "PG20240513174920001" || r.Msg != "Success" {
			t.Errorf("resp = %+v", r)
		}
	},
	"response_precreate_unescaped_sign.golden": func(t *testing.T, out any, err error) {
		r := out.(*alipay.PrecreateResponse)
		if r.QRCode != "https://qr.alipay.com/bax09876zyxwvut54321abcd" {
			t.Errorf("resp = %+v", r)
		}
	},
	"response_pay_paying.golden": func(t *testing.T, out any, err error) {
		r := out.(*alipay.PayResponse)
		if err != nil || r.TotalAmount != 265000 || r.TradeNo != "2017082221001004710224447407" ||
			r.Msg != " order success pay inprocess" || r.BuyerLogonID != "159****5620" || r.ReceiptAmount != 0 {
			t.Errorf("resp = %+v, err = %v", r, err)
		}
	},
	"response_query_not_exist.golden": func(t *testing.T, out any, err error) {
		r := out.(*alipay.QueryResponse)
		if !alipay.IsSubCode(err, alipay.SubTradeNotExist) || r.OutTradeNo != "PG20240513174920001" || r.SubMsg != "交易不存在" {
			t.Errorf("resp = %+v, err = %v", r, err)
		}
		var e *alipay.Error
		if !errors.As(err, &e) || e.Code != "40004" || e.Msg != "Business Failed" || e.SubMsg != "交易不存在" {
			t.Errorf("err = %#v", err)
		}
	},
	"response_query_success.golden": func(t *testing.T, out any, err error) {
		r := out.(*alipay.QueryResponse)
		if !r.Paid() || r.TotalAmount != 1 || r.ReceiptAmount != 1 || r.Subject != "收银台-拿铁咖啡 大杯" ||
			r.SendPayDate != "2024-05-13 17:50:02" || r.BuyerUserID != "2088000000000001" ||
			len(r.FundBillList) != 1 || r.FundBillList[0] != (alipay.FundBill{FundChannel: "ALIPAYACCOUNT", Amount: 1}) {
			t.Errorf("resp = %+v", r)
		}
	},
	"response_cancel_failed.golden": func(t *testing.T, out any, err error) {
		r := out.(*alipay.CancelResponse)
		if r.Retry() || r.RetryFlag != "N" || r.OutTradeNo != "PG20240513174920002" || !alipay.IsSubCode(err, alipay.SubCancelTimeOut) {
			t.Errorf("resp = %+v, err = %v", r, err)
		}
	},
	"response_cancel_retry.golden": func(t *testing.T, out any, err error) {
		r := out.(*alipay.CancelResponse)
		if !r.Retry() || !alipay.IsSubCode(err, alipay.SubCodeSystemError) {
			t.Errorf("resp = %+v, err = %v", r, err)
		}
	},
	"response_refund_repeat.golden": func(t *testing.T, out any, err error) {
		r := out.(*alipay.RefundResponse)
		if r.FundChange != "N" || r.RefundFee != 300 || r.GmtRefundPay != "2024-05-13 18:02:11" || r.TradeNo != "2024051322001400000000000002" {
			t.Errorf("resp = %+v", r)
		}
	},
	"response_query_certmode.golden": func(t *testing.T, out any, err error) {
		r := out.(*alipay.QueryResponse)
		if r.Paid() || r.TradeStatus != alipay.TradeWaitBuyerPay || r.TotalAmount != 1250 {
			t.Errorf("resp = %+v", r)
		}
	},
	"response_error_response.golden": func(t *testing.T, out any, err error) {
		if !alipay.IsSubCode(err, "isv.invalid-method") {
			t.Errorf("err = %v", err)
		}
	},
	"response_invalid_signature.golden": func(t *testing.T, out any, err error) {
		var e *alipay.Error
		if !errors.As(err, &e) || e.SubCode != alipay.SubInvalidSignature || !strings.Contains(e.SubMsg, "&amp;charset=utf-8&amp;") {
			t.Errorf("err = %#v", err)
		}
	},
	"response_query_invalid_app_id.golden": func(t *testing.T, out any, err error) {
		var e *alipay.Error
		if !errors.As(err, &e) || e.Code != "40002" || e.SubCode != alipay.SubInvalidAppID || e.SubMsg != "无效的AppID参数" {
			t.Errorf("err = %#v", err)
		}
	},
}

func TestGoldenResponses(t *testing.T) {
	files := goldenFiles(t, "response_*.golden")
	if len(files) != len(goldenResponseChecks) {
		t.Errorf("%d response golden files, %d in goldenResponseChecks", len(files), len(goldenResponseChecks))
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			r := loadResponse(t, file)
			c := r.client(t)
			alipayPub := stdPublicKey(t, alipayPublicPEM)
			if r.key != alipay.ErrorResponseKey && r.key != alipay.ResponseKey(r.method) {
				t.Fatalf("key %s is not %s's response key %s", r.key, r.method, alipay.ResponseKey(r.method))
			}
			if r.g.has("signed_text") {
				// The case must really exercise the fallback: the sign does not
				// cover the node bytes as sent.
				if stdVerify(alipayPub, []byte(r.node), r.sign) || !stdVerify(alipayPub, []byte(r.g.get(t, "signed_text")), r.sign) {
					t.Fatal("signed_text case: sign must verify over signed_text and not over node")
				}
			}
			body := r.body(r.node)

			raw, err := alipay.ExtractResponse(body, r.method)
			if err != nil {
				t.Fatalf("ExtractResponse: %v", err)
			}
			if string(raw.Node) != r.node || raw.Key != r.key || raw.Sign != r.sign || raw.AlipayCertSN != r.sn {
				t.Errorf("ExtractResponse = %+v", raw)
			}

			out, got, err := decodeAs(c, r.method, body)
			if got != r.outcome {
				t.Fatalf("outcome %v (err %v); want %v", got, err, r.outcome)
			}
			if (err == nil) != (got == alipay.OutcomeSuccess || got == alipay.OutcomePaying) {
				t.Errorf("err = %v with outcome %v", err, got)
			}
			goldenResponseChecks[file](t, out, err)

			// The same bytes laid out differently (sign first; spaces and a
			// newline between the members) still verify: the signature covers
			// the node only, wherever it is.
			if r.sign != "" {
				moved := `{"sign":"` + r.sign + `",` + "\n  " + `"` + r.key + `" : ` + r.node
				if r.sn != "" {
					moved += ` , "alipay_cert_sn":"` + r.sn + `"`
				}
				moved += " }\n"
				if _, o, err := decodeAs(c, r.method, []byte(moved)); o != r.outcome {
					t.Errorf("rearranged body: outcome %v (%v); want %v", o, err, r.outcome)
				}
			}

			// Any one-byte change anywhere in the node must make it unknown.
			for i := 0; i < len(r.node); i++ {
				b := []byte(r.node)
				b[i] ^= 0x01
				if _, o, err := decodeAs(c, r.method, r.body(string(b))); o != alipay.OutcomeUnknown {
					t.Fatalf("node byte %d flipped (%q): outcome %v (%v); want unknown", i, b[max(0, i-10):min(len(b), i+10)], o, err)
				}
			}
			for _, amt := range [][2]string{{`"0.01"`, `"0.02"`}, {`"2650.00"`, `"2650.01"`}, {`"3.00"`, `"30.0"`}} {
				if strings.Contains(r.node, amt[0]) {
					tampered := strings.Replace(r.node, amt[0], amt[1], 1)
					if _, o, err := decodeAs(c, r.method, r.body(tampered)); o != alipay.OutcomeUnknown {
						t.Errorf("amount %s→%s: outcome %v (%v); want unknown", amt[0], amt[1], o, err)
					}
				}
			}
			if r.sign == "" {
				return
			}
			// A damaged or missing sign, or a sign made with the app's key, is unknown.
			appSig := stdSign(t, stdPrivateKey(t, appPrivatePEM), []byte(r.node))
			for name, sig := range map[string]string{
				"flipped":  flipBase64(r.sign),
				"missing":  "",
				"truncate": r.sign[:len(r.sign)-4],
				"app key":  appSig,
			} {
				rr := *r
				rr.sign = sig
				if _, o, err := decodeAs(c, r.method, rr.body(r.node)); o != alipay.OutcomeUnknown {
					t.Errorf("sign %s: outcome %v (%v); want unknown", name, o, err)
				}
			}
			if r.sn != "" {
				// Signed by another Alipay certificate than the configured one.
				rr := *r
				rr.sn = "00000000000000000000000000000000"
				if _, o, err := decodeAs(c, r.method, rr.body(r.node)); o != alipay.OutcomeUnknown {
					t.Errorf("other alipay_cert_sn: outcome %v (%v); want unknown", o, err)
				}
			}
		})
	}
}

// flipBase64 changes the first base64 character of s to another valid one.
func flipBase64(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

// ---- notifications (§5) ----

// signURLEscape URL-encodes a base64 signature by hand, the way Alipay's form
// body carries it (§5.3 SIM note: "+" → %2B); base64 has only these three
// characters that need it.
var signURLEscape = strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D")

type goldenNotify struct {
	form, stringToSign, sign string
}

func loadNotify(t testing.TB, file string) *goldenNotify {
	t.Helper()
	g := loadGolden(t, file)
	n := &goldenNotify{form: g.get(t, "form"), stringToSign: g.get(t, "string_to_sign")}
	n.sign = g.opensslSign(t, n.stringToSign, alipayPrivatePEM)
	if strings.Count(n.form, "${SIGN}") != 1 {
		t.Fatalf("%s: form must hold ${SIGN} once", file)
	}
	return n
}

// body is the form body with the URL-encoded sign in place.
func (n *goldenNotify) body() string {
	return strings.Replace(n.form, "${SIGN}", signURLEscape.Replace(n.sign), 1)
}

func chinaTime(y int, mo time.Month, d, h, mi, s, ms int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ms*int(time.Millisecond), time.FixedZone("UTC+8", 8*3600))
}

type notifyWant struct {
	check  func(t *testing.T, n *alipay.Notification)
	expect alipay.NotifyExpect
}

var goldenNotifyChecks = map[string]notifyWant{
	"notify_trade_success.golden": {
		expect: alipay.NotifyExpect{AppID: goldenAppID, TotalAmount: 5000, SellerID: "2088000000000002"},
		check: func(t *testing.T, n *alipay.Notification) {
			if !n.Paid() || n.TradeStatus != alipay.TradeSuccess || n.OutTradeNo != "CZ202310100039351601" ||
				n.TradeNo != "2023101022001400000000000001" || n.Subject != "订单支付" || n.NotifyType != "trade_status_sync" ||
				n.NotifyID != "2023101001222003900000000000000001" || n.AuthAppID != goldenAppID ||
				n.BuyerLogonID != "131****2989" || n.SellerEmail != "shop@example.com" {
				t.Errorf("n = %+v", n)
			}
			if n.TotalAmount != 5000 || n.ReceiptAmount != 5000 || n.InvoiceAmount != 5000 || n.BuyerPayAmount != 5000 || n.PointAmount != 0 || n.RefundFee != 0 {
				t.Errorf("amounts = %v %v %v %v %v %v", n.TotalAmount, n.ReceiptAmount, n.InvoiceAmount, n.BuyerPayAmount, n.PointAmount, n.RefundFee)
			}
			// 00:39:39 in UTC+8 is 16:39:39 the day before in UTC.
			if !n.GmtPayment.Equal(chinaTime(2023, 10, 10, 0, 39, 39, 0)) || !n.GmtPayment.UTC().Equal(time.Date(2023, 10, 9, 16, 39, 39, 0, time.UTC)) {
				t.Errorf("gmt_payment = %v", n.GmtPayment)
			}
			if !n.GmtCreate.Equal(chinaTime(2023, 10, 10, 0, 39, 38, 0)) || !n.NotifyTime.Equal(chinaTime(2023, 10, 10, 0, 53, 40, 0)) {
				t.Errorf("gmt_create %v notify_time %v", n.GmtCreate, n.NotifyTime)
			}
			if _, off := n.GmtPayment.Zone(); off != 8*3600 {
				t.Errorf("gmt_payment zone offset %d; want UTC+8", off)
			}
			if len(n.FundBillList) != 1 || n.FundBillList[0] != (alipay.NotifyFundBill{Amount: 5000, FundChannel: "ALIPAYACCOUNT"}) {
				t.Errorf("fund_bill_list = %+v", n.FundBillList)
			}
		},
	},
	"notify_fund_bill_escaped.golden": {
		expect: alipay.NotifyExpect{AppID: goldenAppID, TotalAmount: 1250, SellerID: "2088000000000002"},
		check: func(t *testing.T, n *alipay.Notification) {
			want := []alipay.NotifyFundBill{{Amount: 1000, FundChannel: "ALIPAYACCOUNT"}, {Amount: 250, FundChannel: "PCREDIT"}}
			if !reflect.DeepEqual(n.FundBillList, want) {
				t.Errorf("fund_bill_list = %+v; want %+v", n.FundBillList, want)
			}
			if got := n.Form.Get("fund_bill_list"); !strings.HasPrefix(got, "[{&quot;amount&quot;") {
				t.Errorf("Form keeps the text as received; got %q", got)
			}
			if n.PassbackParams != "order%3D1%26shop%3D2" {
				t.Errorf("passback_params = %q; want decoded once", n.PassbackParams)
			}
			if n.Subject != "收银台-拿铁咖啡 大杯" || n.TotalAmount != 1250 {
				t.Errorf("n = %+v", n)
			}
		},
	},
	"notify_refund.golden": {
		expect: alipay.NotifyExpect{AppID: goldenAppID, TotalAmount: 5000},
		check: func(t *testing.T, n *alipay.Notification) {
			if n.OutBizNo != "RF20150428-0001" || n.RefundFee != 300 || n.TotalAmount != 5000 || n.TradeStatus != alipay.TradeSuccess {
				t.Errorf("n = %+v", n)
			}
			if !n.GmtRefund.Equal(chinaTime(2015, 4, 28, 15, 45, 57, 320)) ||
				!n.GmtRefund.UTC().Equal(time.Date(2015, 4, 28, 7, 45, 57, 320e6, time.UTC)) {
				t.Errorf("gmt_refund = %v; want 2015-04-28 15:45:57.320 +08:00", n.GmtRefund)
			}
		},
	},
	"notify_empty_value.golden": {
		expect: alipay.NotifyExpect{AppID: goldenAppID, TotalAmount: 8888, SellerID: "2088000000000002"},
		check: func(t *testing.T, n *alipay.Notification) {
			if n.Paid() || n.TradeStatus != alipay.TradeClosed || n.Body != "" || n.PassbackParams != "" ||
				n.Subject != "Latte & Cake + 1" || n.TotalAmount != 8888 || !n.GmtClose.Equal(chinaTime(2024, 5, 13, 19, 49, 21, 0)) {
				t.Errorf("n = %+v", n)
			}
			if _, ok := n.Form["body"]; !ok {
				t.Errorf("Form lost the empty body field")
			}
		},
	},
}

func TestGoldenNotifications(t *testing.T) {
	files := goldenFiles(t, "notify_*.golden")
	if len(files) != len(goldenNotifyChecks) {
		t.Errorf("%d notify golden files, %d in goldenNotifyChecks", len(files), len(goldenNotifyChecks))
	}
	alipayPub := stdPublicKey(t, alipayPublicPEM)
	appPub := stdPublicKey(t, appPublicPEM)
	sawPlus := false
	for _, file := range files {
		want, ok := goldenNotifyChecks[file]
		if !ok {
			t.Errorf("no checks for %s", file)
			continue
		}
		gn := loadNotify(t, file)
		sawPlus = sawPlus || strings.Contains(gn.sign, "+")
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			form, err := url.ParseQuery(gn.body())
			if err != nil {
				t.Fatal(err)
			}
			if got := alipay.SignContent(form, "sign", "sign_type"); got != gn.stringToSign {
				t.Errorf("string to sign\n got %s\nwant %s", got, gn.stringToSign)
			}
			if form.Get("sign") != gn.sign {
				t.Fatalf("sign did not survive the form encoding: %q", form.Get("sign"))
			}
			n, err := alipay.ParseNotification(form, alipayPub)
			if err != nil {
				t.Fatalf("ParseNotification: %v", err)
			}
			want.check(t, n)
			if n.AppID != goldenAppID {
				t.Errorf("app_id = %q", n.AppID)
			}

			// §5.4 checks.
			if err := n.Check(want.expect); err != nil {
				t.Errorf("Check(%+v) = %v", want.expect, err)
			}
			noSeller := want.expect
			noSeller.SellerID = ""
			if err := n.Check(noSeller); err != nil {
				t.Errorf("Check without seller = %v", err)
			}
			for name, mutate := range map[string]func(*alipay.NotifyExpect){
				"app id": func(e *alipay.NotifyExpect) { e.AppID = "2021000000000002" },
				"amount": func(e *alipay.NotifyExpect) { e.TotalAmount++ },
				"seller": func(e *alipay.NotifyExpect) { e.SellerID = "2088000000000009" },
			} {
				e := want.expect
				mutate(&e)
				if err := n.Check(e); !errors.Is(err, alipay.ErrNotifyMismatch) {
					t.Errorf("Check with wrong %s = %v; want ErrNotifyMismatch", name, err)
				}
			}

			// The wrong key (the app's own public key, §1.5) fails.
			if _, err := alipay.ParseNotification(form, appPub); err == nil {
				t.Error("verified with the app's public key")
			}

			// Tampered bodies fail.
			body := gn.body()
			amountKey := "total_amount=" + form.Get("total_amount")
			for name, tampered := range map[string]string{
				"changed amount":        strings.Replace(body, amountKey, "total_amount=0.01", 1),
				"plus as raw + (space)": strings.Replace(gn.form, "${SIGN}", strings.ReplaceAll(signURLEscape.Replace(gn.sign), "%2B", "+"), 1),
				"extra field":           body + "&extra_param=1",
				"duplicate field":       body + "&" + amountKey,
				"duplicate other val":   body + "&trade_status=TRADE_FINISHED",
				"sign removed":          strings.Replace(gn.form, "sign=${SIGN}", "sign=", 1),
				"sign_type RSA":         strings.Replace(body, "sign_type=RSA2", "sign_type=RSA", 1),
				"subject changed":       strings.Replace(body, "subject=", "subject=X", 1),
				"value emptied":         strings.Replace(body, "notify_type=trade_status_sync", "notify_type=", 1),
			} {
				if name == "plus as raw + (space)" && !strings.Contains(gn.sign, "+") {
					continue
				}
				f, err := url.ParseQuery(tampered)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if _, err := alipay.ParseNotification(f, alipayPub); err == nil {
					t.Errorf("%s: tampered notification accepted", name)
				}
			}
			// sign_type is not covered (§5.3): dropping it changes nothing.
			noType := strings.Replace(body, "sign_type=RSA2", "sign_type=", 1)
			if f, _ := url.ParseQuery(noType); !bytes.Equal([]byte(alipay.SignContent(f, "sign", "sign_type")), []byte(gn.stringToSign)) {
				t.Error("sign_type must not be part of the notification string to sign")
			}
		})
	}
	if !sawPlus {
		// Improbable with 344 base64 characters; change a value to get one.
		t.Error(`no golden notification signature contains "+"; the space-for-plus tamper case went untested`)
	}
}

// TestGoldenNotificationHTTP delivers a golden notification as Alipay does,
// as a POST form body, with a query string a proxy added: only the body is
// verified (§7 #14), and "%2B" in the body arrives as "+" in sign.
func TestGoldenNotificationHTTP(t *testing.T) {
	t.Parallel()
	gn := loadNotify(t, "notify_trade_success.golden")
	req := httptest.NewRequest(http.MethodPost, "/notify/alipay?utm_source=proxy&total_amount=0.01", strings.NewReader(gn.body()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	form, err := alipay.ReadNotificationForm(req)
	if err != nil {
		t.Fatal(err)
	}
	if form.Get("sign") != gn.sign || form.Has("utm_source") {
		t.Fatalf("form = %v", form)
	}
	n, err := alipay.ParseNotification(form, stdPublicKey(t, alipayPublicPEM))
	if err != nil || n.TotalAmount != 5000 {
		t.Fatalf("ParseNotification = %+v, %v", n, err)
	}
}
