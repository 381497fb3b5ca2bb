// Benchmarks: what a request, a response and a notification cost, and how
// much of it is the RSA operation.
//
//	go test ./alipay -run '^$' -bench . -benchtime 2s -count 3
//
// Compare BuildRequestNoRSA with Sign, and ParseResponseNoRSA with Verify, to
// see the client's own share of the work.
package alipay_test

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/paygate/paygate/alipay"
)

var benchSink any

// benchPrecreate is the precreate of request_precreate.golden.
func benchPrecreate(b *testing.B) (c *alipay.Client, biz any, content, sign string) {
	b.Helper()
	g := loadGolden(b, "request_precreate.golden")
	clock, err := time.Parse(time.RFC3339, g.get(b, "clock"))
	if err != nil {
		b.Fatal(err)
	}
	return goldenClient(b, clock, nil), goldenRequestBiz["request_precreate.golden"], g.get(b, "string_to_sign"), g.get(b, "sign")
}

func BenchmarkSign(b *testing.B) {
	_, _, content, _ := benchPrecreate(b)
	key := stdPrivateKey(b, appPrivatePEM)
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		s, err := alipay.Sign(key, []byte(content))
		if err != nil {
			b.Fatal(err)
		}
		benchSink = s
	}
}

func BenchmarkVerify(b *testing.B) {
	_, _, content, sign := benchPrecreate(b)
	pub := stdPublicKey(b, appPublicPEM)
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		if err := alipay.Verify(pub, []byte(content), sign); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignContent(b *testing.B) {
	c, biz, _, _ := benchPrecreate(b)
	bizJSON, _ := alipay.MarshalBizContent(biz)
	params, err := c.Params(alipay.MethodPrecreate, bizJSON, goldenNotifyURL)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		benchSink = alipay.SignContent(params, "sign")
	}
}

// BenchmarkBuildRequest is the whole request: biz_content, parameters, RSA
// signature, form encoding.
func BenchmarkBuildRequest(b *testing.B) {
	c, biz, _, _ := benchPrecreate(b)
	b.ReportAllocs()
	for b.Loop() {
		bizJSON, err := alipay.MarshalBizContent(biz)
		if err != nil {
			b.Fatal(err)
		}
		p, err := c.Params(alipay.MethodPrecreate, bizJSON, goldenNotifyURL)
		if err != nil {
			b.Fatal(err)
		}
		benchSink = p.Encode()
	}
}

// BenchmarkBuildRequestNoRSA is BuildRequest without the RSA operation, built
// from the exported pieces the same way Params does.
func BenchmarkBuildRequestNoRSA(b *testing.B) {
	_, biz, _, sign := benchPrecreate(b)
	now := time.Date(2024, 5, 13, 9, 49, 20, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		bizJSON, err := alipay.MarshalBizContent(biz)
		if err != nil {
			b.Fatal(err)
		}
		p := url.Values{
			"app_id":    {goldenAppID},
			"method":    {alipay.MethodPrecreate},
			"format":    {"JSON"},
			"charset":   {"utf-8"},
			"sign_type": {"RSA2"},
			"timestamp": {alipay.FormatTime(now)},
			"version":   {"1.0"},
		}
		p.Set("biz_content", string(bizJSON))
		p.Set("notify_url", goldenNotifyURL)
		benchSink = alipay.SignContent(p, "sign")
		p.Set("sign", sign) // stands for the RSA result
		benchSink = p.Encode()
	}
}

func benchResponse(b *testing.B) (*alipay.Client, []byte) {
	b.Helper()
	r := loadResponse(b, "response_precreate_success.golden")
	return r.client(b), r.body(r.node)
}

// BenchmarkParseResponse is the whole response: extraction, RSA verification
// over the node bytes, decoding, classification.
func BenchmarkParseResponse(b *testing.B) {
	c, body := benchResponse(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var resp alipay.PrecreateResponse
		if err := c.DecodeResponse(alipay.MethodPrecreate, body, "", &resp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseResponseNoRSA is ParseResponse without verification.
func BenchmarkParseResponseNoRSA(b *testing.B) {
	_, body := benchResponse(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		raw, err := alipay.ExtractResponse(body, alipay.MethodPrecreate)
		if err != nil {
			b.Fatal(err)
		}
		var resp alipay.PrecreateResponse
		if err := json.Unmarshal(raw.Node, &resp); err != nil {
			b.Fatal(err)
		}
		benchSink = resp.Outcome()
	}
}

// BenchmarkParseNotification is a notification handler's protocol work: form
// decoding, verification, field parsing.
func BenchmarkParseNotification(b *testing.B) {
	body := loadNotify(b, "notify_trade_success.golden").body()
	pub := stdPublicKey(b, alipayPublicPEM)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		form, err := url.ParseQuery(body)
		if err != nil {
			b.Fatal(err)
		}
		n, err := alipay.ParseNotification(form, pub)
		if err != nil {
			b.Fatal(err)
		}
		benchSink = n
	}
}
