package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/client"
)

// cashierStream opens an order's event stream on the node and returns its
// "data:" lines as they come (closed at the stream's end).
func cashierStream(t *testing.T, e *e2eEnv, cashierURL string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cashierURL+"/events", nil)
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		resp.Body.Close()
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				lines <- d
			}
		}
	}()
	return lines
}

func nextData(t *testing.T, lines <-chan string, d time.Duration) (string, bool) {
	t.Helper()
	select {
	case l, ok := <-lines:
		return l, ok
	case <-time.After(d):
		t.Fatalf("no event within %s", d)
	}
	return "", false
}

// TestCashierE2E: a QR order made through the signed API has a cashier_url
// on the node (a token, not the out_trade_no) whose page shows the order,
// and whose stream turns "paid" when the buyer pays on the simulator's
// phone page; a barcode order has none; the token never reaches the log.
func TestCashierE2E(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind)
		req := e2eQR("CASH_1", "12.30")
		req.ReturnURL = "https://shop.example/thanks"
		o := e2eCreate(t, e.a, req, http.StatusCreated)
		token, ok := strings.CutPrefix(o.CashierURL, e.base+"/pay/")
		if !ok || !paygate.WellFormedCashierToken(token) || strings.Contains(o.CashierURL, "CASH_1") {
			t.Fatalf("cashier_url = %q", o.CashierURL)
		}
		if again := e2eGet(t, e.a, "CASH_1"); again.CashierURL != o.CashierURL {
			t.Fatalf("GET shows cashier_url %q, create %q", again.CashierURL, o.CashierURL)
		}

		resp, err := e.http.Get(o.CashierURL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "12.30") || !strings.Contains(string(body), "<svg") ||
			!strings.Contains(string(body), "shop A") || resp.Header.Get("Referrer-Policy") != "no-referrer" ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Fatalf("cashier page: %d %v\n%s", resp.StatusCode, resp.Header, body)
		}

		lines := cashierStream(t, e, o.CashierURL)
		if d, _ := nextData(t, lines, 10*time.Second); !strings.Contains(d, `"state":"pending"`) {
			t.Fatalf("first event %s", d)
		}
		form := url.Values{"pick": {o.QRCode}, "buyer_id": {e2eBuyer}}
		pr, err := e.http.PostForm(e.base+"/sim/phone/pay", form)
		if err != nil {
			t.Fatal(err)
		}
		pb, _ := io.ReadAll(pr.Body)
		pr.Body.Close()
		if pr.StatusCode != http.StatusOK || !strings.Contains(string(pb), "Paid ¥12.30") {
			t.Fatalf("phone pay: %d %s", pr.StatusCode, pb)
		}
		d, ok := nextData(t, lines, 15*time.Second)
		if !ok || !strings.Contains(d, `"state":"paid"`) || !strings.Contains(d, `"final":true`) {
			t.Fatalf("after payment: %q (open %v)", d, ok)
		}
		if _, ok := nextData(t, lines, 5*time.Second); ok {
			t.Fatal("the stream goes on after the final state")
		}
		e2eWaitStatus(t, e.a, "CASH_1", "paid")

		b := e2eCreate(t, e.a, client.CreateOrderRequest{OutTradeNo: "CASH_B", Subject: "tea", TotalAmount: "1.00", Mode: "barcode", AuthCode: "280000000000000001"}, http.StatusCreated)
		if b.CashierURL != "" {
			t.Fatalf("barcode order has cashier_url %q", b.CashierURL)
		}
		if strings.Contains(e.log.String(), token) {
			t.Fatal("the cashier token is in the node's log")
		}
		if !strings.Contains(e.log.String(), `"path":"/pay/…/events"`) {
			t.Fatal("the log has no redacted cashier path")
		}
	})
}

// TestCashierDrainE2E: a node shutting down with a buyer's stream open
// ends the stream at drain start and stops promptly, not after
// server.shutdown_timeout.
func TestCashierDrainE2E(t *testing.T) {
	t.Parallel()
	e := e2e(t, "sqlite")
	o := e2eCreate(t, e.a, e2eQR("DRAIN_1", "1.00"), http.StatusCreated)
	var streams []<-chan string
	for range 3 {
		lines := cashierStream(t, e, o.CashierURL)
		nextData(t, lines, 10*time.Second)
		streams = append(streams, lines)
	}
	start := time.Now()
	e.stop()
	for i, lines := range streams {
		for {
			_, ok := nextData(t, lines, 5*time.Second)
			if !ok {
				break
			}
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("stream %d ended %s after the drain began", i, d)
		}
	}
	select {
	case <-e.served:
	case <-time.After(5 * time.Second):
		t.Fatalf("the node still serves 5 s after the drain began (shutdown_timeout %s)", e.cfg.Server.ShutdownTimeout)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown took %s with cashier streams open", d)
	}
}
