package alipaysim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
)

// FuzzGateway feeds arbitrary requests to the handler: the answer is never
// a 500 and always a JSON body. With resign, the fuzzed form is completed
// and signed as the registered app, so arbitrary biz_content reaches the
// business methods.
func FuzzGateway(f *testing.F) {
	clk := newClock()
	sim, err := alipaysim.New(alipaysim.Config{
		AlipayKey: alipayKey(), Now: clk.Now,
		Apps: []alipaysim.App{{AppID: testAppID, PublicKey: &appKey().PublicKey}},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { sim.Close() })
	seed := func(method, biz string) {
		f.Add("", url.Values{"method": {method}, "biz_content": {biz}}.Encode(), true)
	}
	seed(alipay.MethodPrecreate, `{"out_trade_no":"Z1","total_amount":"1.00","subject":"s"}`)
	seed(alipay.MethodPay, `{"out_trade_no":"Z2","scene":"bar_code","auth_code":"280000000000000001","subject":"s","total_amount":"1"}`)
	seed(alipay.MethodPay, `{"out_trade_no":"Z3","scene":"bar_code","auth_code":"290000000000000001","subject":"s","total_amount":1.5}`)
	seed(alipay.MethodQuery, `{"out_trade_no":"Z2"}`)
	seed(alipay.MethodQuery, `{"trade_no":123}`)
	seed(alipay.MethodCancel, `{"out_trade_no":"Z3"}`)
	seed(alipay.MethodClose, `{"out_trade_no":"Z1"}`)
	seed(alipay.MethodRefund, `{"out_trade_no":"Z2","refund_amount":"0.50","out_request_no":"R1"}`)
	seed(alipay.MethodRefundQuery, `{"out_trade_no":"Z2","out_request_no":"R1"}`)
	seed(alipay.MethodBillURL, `{"bill_type":"trade","bill_date":"2024-05-12"}`)
	seed(alipay.MethodPrecreate, `{"out_trade_no":null,"total_amount":[],"subject":{}}`)
	seed(alipay.MethodPrecreate, `{"out_trade_no":"Z4","total_amount":"1","subject":"s","timeout_express":"99999999d"}`)
	seed(alipay.MethodRefund, `{"out_trade_no":"Z2","refund_amount":"99999999999999999999"}`)
	f.Add("app_id=1&method=alipay.trade.query", "biz_content=%7B", false)
	f.Add("", "app_id=2021000000000001&method=alipay.trade.query&sign=%%%", false)
	f.Add("charset=utf-8", "charset=gbk&app_id=x", false)
	f.Add("", "\x00\xff=\xfe", false)
	f.Add("a=1&a=2", "", false)
	f.Fuzz(func(t *testing.T, query, body string, resign bool) {
		if resign {
			form, _ := url.ParseQuery(body)
			form.Del("sign")
			form.Set("app_id", testAppID)
			form.Set("sign_type", "RSA2")
			form.Set("version", "1.0")
			form.Set("timestamp", alipay.FormatTime(clk.Now()))
			for k, vs := range form {
				form[k] = vs[:1]
			}
			sign, err := alipay.Sign(appKey(), []byte(alipay.SignContent(form, "sign")))
			if err != nil {
				t.Fatal(err)
			}
			form.Set("sign", sign)
			body, query = form.Encode(), ""
		}
		req := httptest.NewRequest(http.MethodPost, "/gateway.do", strings.NewReader(body))
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("HTTP %d for query %q body %q: %s", rec.Code, query, body, rec.Body.Bytes())
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("not JSON for query %q body %q: %s", query, body, rec.Body.Bytes())
		}
	})
}
