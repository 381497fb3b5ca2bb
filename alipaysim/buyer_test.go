package alipaysim_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
)

// TestSimRoutes: the /sim surface of contract.md.
func TestSimRoutes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	resp, err := http.Get(e.srv.URL + "/sim/alipay_public_key")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || string(b) != e.sim.AlipayPublicKeyBase64()+"\n" {
		t.Fatalf("public key route: %q %s", resp.Header.Get("Content-Type"), b)
	}
	if pub, err := alipay.ParsePublicKey(b); err != nil || !pub.Equal(&alipayKey().PublicKey) {
		t.Fatalf("public key: %v", err)
	}

	code := e.precreate("SR1", "8.88", "")
	code2 := e.precreate("SR2", "1.00", "")
	var trades []alipaysim.TradeView
	e.simJSON(http.MethodGet, "/sim/trades", nil, &trades)
	if len(trades) != 2 || trades[0].OutTradeNo != "SR1" || trades[0].TradeStatus != "" || trades[0].QRCode != code || trades[0].Refunds == nil {
		t.Fatalf("trades %+v", trades)
	}

	var errBody map[string]string
	cases := []struct {
		path string
		body any
		want int
	}{
		{"/sim/pay", "not an object", http.StatusBadRequest},
		{"/sim/pay", map[string]string{}, http.StatusBadRequest},
		{"/sim/pay", map[string]string{"qr_code": "https://qr.alipay.com/bax0nope"}, http.StatusNotFound},
		{"/sim/pay", map[string]string{"qr_code": code, "buyer_id": "buyer1"}, http.StatusBadRequest},
	}
	for _, c := range cases {
		errBody = nil
		if got := e.simJSON(http.MethodPost, c.path, c.body, &errBody); got != c.want || errBody["error"] == "" {
			t.Errorf("POST %s %v: %d %v, want %d", c.path, c.body, got, errBody, c.want)
		}
	}
	var v alipaysim.TradeView
	if got := e.simJSON(http.MethodPost, "/sim/scan", map[string]string{"qr_code": code2}, &v); got != 200 || v.TradeStatus != alipay.TradeWaitBuyerPay || v.TradeNo == "" {
		t.Fatalf("scan: %d %+v", got, v)
	}
	if got := e.simJSON(http.MethodPost, "/sim/pay", map[string]string{"qr_code": code, "buyer_id": "2088000000000007"}, &v); got != 200 || v.TradeStatus != alipay.TradeSuccess || v.BuyerID != "2088000000000007" || v.PaidAt == nil {
		t.Fatalf("pay: %d %+v", got, v)
	}
	if got := e.simJSON(http.MethodPost, "/sim/pay", map[string]string{"qr_code": code}, &errBody); got != http.StatusConflict {
		t.Fatalf("paying twice: %d", got)
	}
	for path, want := range map[string]int{"/sim/nope": 404, "/": 404, "/gateway": 404} {
		if got := e.simJSON(http.MethodGet, path, nil, &errBody); got != want {
			t.Errorf("GET %s: %d, want %d", path, got, want)
		}
	}
	if got := e.simJSON(http.MethodGet, "/sim/pay", nil, &errBody); got != http.StatusMethodNotAllowed {
		t.Errorf("GET /sim/pay: %d", got)
	}
	var list []alipaysim.NotifyAttempt
	if got := e.simJSON(http.MethodGet, "/sim/notifications", nil, &list); got != 200 || list == nil {
		t.Errorf("notifications: %d %v", got, list)
	}
}
