package alipaysim_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
)

func (e *env) page(method, path string, form url.Values, hdr map[string]string) (int, http.Header, string) {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func wantPhoneHeaders(t *testing.T, hd http.Header) {
	t.Helper()
	for k, v := range map[string]string{
		"Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "no-store",
	} {
		if hd.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, hd.Get(k), v)
		}
	}
}

// TestPhoneListsAndPays: the phone page lists exactly the codes a buyer
// can pay, a form pays the one picked (or pasted) as POST /sim/pay does,
// and the result is shown; a code paid, closed or expired leaves the list.
func TestPhoneListsAndPays(t *testing.T) {
	t.Parallel()
	e := setup(t)
	status, hd, body := e.page("GET", "/sim/", nil, nil)
	if status != http.StatusOK || hd.Get("Content-Type") != "text/html; charset=utf-8" || !strings.Contains(body, `id="no-codes"`) {
		t.Fatalf("empty phone: %d %s", status, body)
	}
	wantPhoneHeaders(t, hd)

	a := e.precreate("PH1", "9.90", "")
	b := e.precreate("PH2", "1.00", "")
	c := e.precreate("PH3", "2.00", "")
	e.paidTrade("PH4", "3.00", "") // a barcode trade: never listed
	if _, err := e.client.Close(ctx(t), alipay.CloseRequest{OutTradeNo: "PH3"}); err == nil {
		t.Log("close of an unscanned code answered success")
	}
	_, _, body = e.page("GET", "/sim/", nil, nil)
	for _, want := range []string{`value="` + a + `"`, `value="` + b + `"`, "¥9.90", "PH1", "coffee", `<label for="qr_code">`, `<label for="buyer_id">`} {
		if !strings.Contains(body, want) {
			t.Errorf("phone lacks %s", want)
		}
	}
	if strings.Contains(body, c) || strings.Contains(body, "PH4") {
		t.Errorf("phone lists a closed code or a barcode trade")
	}
	if got := len(e.sim.PendingCodes()); got != 2 {
		t.Errorf("PendingCodes = %d, want 2", got)
	}

	// Pay the picked code with a buyer id.
	status, _, body = e.page("POST", "/sim/phone/pay", url.Values{"pick": {a}, "buyer_id": {"2088000000000042"}}, nil)
	if status != http.StatusOK || !strings.Contains(body, "Paid ¥9.90") || !strings.Contains(body, `class="result ok"`) {
		t.Fatalf("pay picked: %d %s", status, body)
	}
	v := e.view("PH1")
	if v.TradeStatus != alipay.TradeSuccess || v.BuyerID != "2088000000000042" {
		t.Fatalf("after the phone paid: %+v", v)
	}
	if strings.Contains(body, `value="`+a+`"`) {
		t.Error("the paid code is still listed")
	}

	// Pasted wins over picked; a pasted unknown code is refused clearly.
	status, _, body = e.page("POST", "/sim/phone/pay", url.Values{"pick": {b}, "qr_code": {"https://qr.alipay.com/nothing"}}, nil)
	if status != http.StatusNotFound || !strings.Contains(body, "No code waiting to be paid is this one") {
		t.Fatalf("pasted unknown: %d %s", status, body)
	}
	if e.view("PH2").TradeStatus != "" {
		t.Fatal("the picked code was paid although another was pasted")
	}
	status, _, body = e.page("POST", "/sim/phone/pay", url.Values{"qr_code": {" " + b + " "}}, nil)
	if status != http.StatusOK || e.view("PH2").TradeStatus != alipay.TradeSuccess {
		t.Fatalf("pasted: %d %s", status, body)
	}

	// Refusals: paid again, a bad buyer id, nothing chosen, another site.
	for _, tc := range []struct {
		form   url.Values
		hdr    map[string]string
		status int
		msg    string
	}{
		{url.Values{"pick": {a}}, nil, http.StatusConflict, "already paid"},
		{url.Values{"pick": {e.precreate("PH5", "1.00", "")}, "buyer_id": {"12"}}, nil, http.StatusBadRequest, "16 digits starting with 2088"},
		{url.Values{}, nil, http.StatusBadRequest, "Pick a code from the list or paste one"},
		{url.Values{"pick": {e.precreate("PH6", "1.00", "")}}, map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden, "cross-site"},
		{url.Values{"pick": {e.precreate("PH7", "1.00", "")}}, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, "cross-site"},
	} {
		status, _, body := e.page("POST", "/sim/phone/pay", tc.form, tc.hdr)
		if status != tc.status || !strings.Contains(body, tc.msg) {
			t.Errorf("%v %v: %d %.300s", tc.form, tc.hdr, status, body)
		}
	}
	if e.view("PH6").TradeStatus != "" || e.view("PH7").TradeStatus != "" {
		t.Error("a cross-site form paid")
	}

	// An expired code leaves the list.
	e.clock.Advance(3 * time.Hour)
	if got := e.sim.PendingCodes(); len(got) != 0 {
		t.Errorf("after expiry: %+v", got)
	}
}

var digits = regexp.MustCompile(`data-code="(\d+)"`)

// TestPhoneBarcode: the page shows a fresh 18-digit auth code of the kind
// asked, which pays as that kind does.
func TestPhoneBarcode(t *testing.T) {
	t.Parallel()
	e := setup(t)
	seen := map[string]bool{}
	for _, k := range alipaysim.AuthCodeKinds {
		status, _, body := e.page("GET", "/sim/?barcode="+k.Prefix, nil, nil)
		m := digits.FindStringSubmatch(body)
		if status != http.StatusOK || m == nil || len(m[1]) != 18 || !strings.HasPrefix(m[1], k.Prefix) || seen[m[1]] {
			t.Fatalf("kind %s: %d, code %v", k.Prefix, status, m)
		}
		seen[m[1]] = true
		if !strings.Contains(body, `id="kind-`+k.Prefix+`" value="`+k.Prefix+`" checked`) {
			t.Errorf("kind %s is not the one checked", k.Prefix)
		}
	}
	// A 28… code from the page pays at once.
	_, _, body := e.page("GET", "/sim/?barcode=28", nil, nil)
	code := digits.FindStringSubmatch(body)[1]
	resp, err := e.client.Pay(ctx(t), alipay.PayRequest{OutTradeNo: "PB1", AuthCode: code, Subject: "tea", TotalAmount: yuan("1.00")})
	if err != nil || resp.Outcome() != alipay.OutcomeSuccess {
		t.Fatalf("pay with the page's code: %v %+v", err, resp)
	}
	if status, _, _ := e.page("GET", "/sim/?barcode=99", nil, nil); status != http.StatusBadRequest {
		t.Errorf("unknown kind: %d", status)
	}
}

// TestPhoneRoutesKeepTheJSONOnes: the page's routes sit beside the JSON
// ones without changing them; static files are served with the same
// headers.
func TestPhoneRoutesKeepTheJSONOnes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for path, typ := range map[string]string{
		"/sim/static/phone.css":  "text/css; charset=utf-8",
		"/sim/static/phone.js":   "text/javascript; charset=utf-8",
		"/sim/trades":            "application/json; charset=utf-8",
		"/sim/faults":            "application/json; charset=utf-8",
		"/sim/alipay_public_key": "text/plain; charset=utf-8",
	} {
		status, hd, _ := e.page("GET", path, nil, nil)
		if status != http.StatusOK || hd.Get("Content-Type") != typ {
			t.Errorf("GET %s: %d %s", path, status, hd.Get("Content-Type"))
		}
		if strings.HasPrefix(path, "/sim/static/") {
			wantPhoneHeaders(t, hd)
		}
	}
	if status, _, _ := e.page("HEAD", "/sim/", nil, nil); status != http.StatusOK {
		t.Errorf("HEAD /sim/: %d", status)
	}
	for _, c := range []struct{ method, path string }{{"PUT", "/sim/"}, {"GET", "/sim/phone/pay"}} {
		if status, _, _ := e.page(c.method, c.path, nil, nil); status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d", c.method, c.path, status)
		}
	}
	if status, _, _ := e.page("GET", "/sim/static/missing.js", nil, nil); status != http.StatusNotFound {
		t.Errorf("missing static: %d", status)
	}
}
