package httpapi_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/paygate/paygate/alipay"
)

func postForm(t *testing.T, u string, form url.Values) (int, http.Header, []byte) {
	t.Helper()
	hr, err := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, hr)
}

func TestNotifyAlipay(t *testing.T) {
	t.Parallel()
	f := setup(t)
	form := url.Values{"out_trade_no": {"N1"}, "trade_status": {"TRADE_SUCCESS"}, "sign": {"c2lnbmF0dXJl"}}

	status, hdr, b := postForm(t, f.url+"/notify/alipay?injected=1", form)
	if status != 200 || string(b) != "success" || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("accepted: %d %q %q", status, hdr.Get("Content-Type"), b)
	}
	calls := f.orders.Calls()
	if len(calls) != 1 || calls[0].method != "HandleNotification" {
		t.Fatalf("calls = %v", calls)
	}
	got := calls[0].arg.(url.Values)
	if got.Get("out_trade_no") != "N1" || got.Has("injected") {
		t.Fatalf("service got %v; want the body's fields only", got)
	}

	f.orders.set(func(f *fakeOrders) { f.notifyErr = errors.New("signature does not verify") })
	status, _, b = postForm(t, f.url+"/notify/alipay", form)
	if status != 200 || string(b) != "failure" {
		t.Fatalf("refused: %d %q", status, b)
	}
	// The refusal is logged with the order and the reason, never the form.
	logs := f.logs.String()
	if !strings.Contains(logs, "signature does not verify") || !strings.Contains(logs, `"out_trade_no":"N1"`) {
		t.Errorf("log lacks the reason or the order: %s", logs)
	}
	if strings.Contains(logs, "c2lnbmF0dXJl") || strings.Contains(logs, "TRADE_SUCCESS") {
		t.Errorf("log carries the notification's fields: %s", logs)
	}

	// A body that is not a form is refused without reaching the service.
	hr, _ := http.NewRequest("POST", f.url+"/notify/alipay", strings.NewReader("%zz"))
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if status, _, b := do(t, hr); status != 200 || string(b) != "failure" {
		t.Fatalf("malformed: %d %q", status, b)
	}
	if n := len(f.orders.Calls()); n != 2 {
		t.Fatalf("service calls = %d, want 2", n)
	}
	if alipay.NotifyAck != "success" {
		t.Fatal("alipay.NotifyAck changed; the test's literal is wrong")
	}
}
