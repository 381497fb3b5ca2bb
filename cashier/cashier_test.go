package cashier_test

import (
	"context"
	"errors"
	"html"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/cashier"
)

// wantHeaders checks the headers every cashier answer carries.
func wantHeaders(t *testing.T, hd http.Header) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
	}
	for k, v := range want {
		if got := hd.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestPage(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		f := setup(t, st)
		o := f.order(t, nil)
		status, hd, body := f.get(t, "/pay/"+o.CashierToken)
		if status != http.StatusOK || hd.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("GET page: %d %s", status, hd.Get("Content-Type"))
		}
		wantHeaders(t, hd)
		for _, want := range []string{
			html.EscapeString(f.merchant.Name), // the shop's name, escaped
			"Oolong 乌龙",
			`<span class="figure">9.90</span>`,
			`<svg xmlns="http://www.w3.org/2000/svg" class="qr-code"`,
			`<path fill="#000" d="M`,
			`data-state="pending"`,
			`<noscript><meta http-equiv="refresh" content="5"></noscript>`,
			`<time id="countdown" datetime="` + o.ExpiresAt.UTC().Format(time.RFC3339) + `">`,
			`data-events="/pay/` + o.CashierToken + `/events"`,
			`<script src="/pay/static/cashier.js" defer></script>`,
			`<a href="https://shop.example/thanks?o=1" rel="noreferrer">`,
			`role="status"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %s", want)
			}
		}
		for _, never := range []string{o.OutTradeNo, o.ChannelNo, "<script>", " style=", " onclick"} {
			if strings.Contains(body, never) {
				t.Errorf("page shows %q", never)
			}
		}
		// The countdown shows the time left, 14:5x.
		if !strings.Contains(body, `">14:5`) && !strings.Contains(body, `">15:00<`) {
			t.Errorf("page lacks the time left: %s", body)
		}

		resp, err := http.Head(f.srv.URL + "/pay/" + o.CashierToken)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("HEAD: %v %v", err, resp)
		}
		resp.Body.Close()
	})
}

func TestStatic(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		f := setup(t, st)
		for path, typ := range map[string]string{
			"/pay/static/cashier.js":  "text/javascript; charset=utf-8",
			"/pay/static/cashier.css": "text/css; charset=utf-8",
		} {
			status, hd, body := f.get(t, path)
			if status != http.StatusOK || hd.Get("Content-Type") != typ || len(body) < 100 {
				t.Errorf("GET %s: %d %q, %d bytes", path, status, hd.Get("Content-Type"), len(body))
			}
			wantHeaders(t, hd)
		}
		if status, _, _ := f.get(t, "/pay/static/nothing.js"); status != http.StatusNotFound {
			t.Errorf("missing asset: %d", status)
		}
	})
}

// TestNotFound: whatever names no QR order gets one plain 404 page that
// echoes nothing of the request.
func TestNotFound(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		f := setup(t, st)
		o := f.order(t, nil)
		barcode := f.order(t, func(o *paygate.Order) { o.Mode, o.QRCode = paygate.ModeBarcode, "" })
		unknown, _ := paygate.NewCashierToken()
		_, _, want := f.get(t, "/pay/"+unknown)
		for _, path := range []string{
			"/pay/" + unknown, "/pay/" + unknown + "/events", "/pay/" + o.OutTradeNo, "/pay/" + o.ChannelNo,
			"/pay/" + o.CashierToken[:21], "/pay/" + o.CashierToken + "x", "/pay/" + strings.ToUpper(o.CashierToken[:1]) + "%3Cb%3E",
			"/pay/", "/pay/" + o.CashierToken + "/qr.png", "/pay/" + barcode.CashierToken, "/pay/" + barcode.CashierToken + "/events",
		} {
			status, hd, body := f.get(t, path)
			if status != http.StatusNotFound || body != want {
				t.Errorf("GET %s: %d, body %q", path, status, body)
			}
			wantHeaders(t, hd)
			if strings.Contains(body, unknown) || strings.Contains(body, o.OutTradeNo) {
				t.Errorf("GET %s: the 404 echoes the request", path)
			}
		}
		resp, err := http.Post(f.srv.URL+"/pay/"+o.CashierToken, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST: %d", resp.StatusCode)
		}
	})
}

// TestPageStates: the page shows what the buyer needs to know, and a
// settled page does not reload itself.
func TestPageStates(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		f := setup(t, st)
		now := time.Now()
		tests := []struct {
			name  string
			edit  func(o *paygate.Order)
			move  paygate.OrderStatus
			state string
		}{
			{"pending", nil, "", "pending"},
			{"paid", nil, paygate.StatusPaid, "paid"},
			{"closed", nil, paygate.StatusClosed, "closed"},
			{"pending past expiry", func(o *paygate.Order) { o.ExpiresAt = now.Add(-time.Second) }, "", "expired"},
			{"closed after expiry", func(o *paygate.Order) { o.ExpiresAt = now.Add(-time.Minute) }, paygate.StatusClosed, "expired"},
			{"no code yet", func(o *paygate.Order) { o.QRCode = "" }, "", "pending"},
		}
		for _, tt := range tests {
			o := f.order(t, tt.edit)
			if tt.move != "" {
				f.move(t, o, tt.move, now)
			}
			_, _, body := f.get(t, "/pay/"+o.CashierToken)
			if !strings.Contains(body, `data-state="`+tt.state+`"`) {
				t.Errorf("%s: page is not %s", tt.name, tt.state)
			}
			refresh := strings.Contains(body, `http-equiv="refresh"`)
			if refresh != (tt.move == "") {
				t.Errorf("%s: refresh %v", tt.name, refresh)
			}
			if tt.name == "no code yet" && (strings.Contains(body, "<svg") || !strings.Contains(body, `data-has-qr="false"`)) {
				t.Errorf("%s: a code is drawn", tt.name)
			}
		}
		// Refunded after paid.
		o := f.order(t, nil)
		f.move(t, o, paygate.StatusPaid, now)
		f.move(t, o, paygate.StatusRefunded, now)
		if _, _, body := f.get(t, "/pay/"+o.CashierToken); !strings.Contains(body, `data-state="refunded"`) {
			t.Errorf("refunded: %s", body)
		}
	})
}

// TestEventsFollowOrder: a stream says the state at once, then each change
// as the store has it, and ends after the final one; the page of a settled
// order streams its state and ends.
func TestEventsFollowOrder(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		f := setup(t, st)
		o := f.order(t, nil)
		s := f.open(t, "/pay/"+o.CashierToken+"/events")
		wantHeaders(t, s.resp.Header)
		ev, _ := s.next(t, 5*time.Second)
		if ev.name != "status" || ev.data["state"] != "pending" || ev.data["final"] != false || ev.data["has_qr"] != true {
			t.Fatalf("first event: %+v", ev)
		}
		// Heartbeats keep an idle stream open.
		deadline := time.After(5 * time.Second)
	beat:
		for {
			select {
			case e := <-s.events:
				if e.name == ":ping" {
					break beat
				}
			case <-deadline:
				t.Fatal("no heartbeat")
			}
		}
		f.move(t, o, paygate.StatusPaid, time.Now())
		ev, ok := s.next(t, 5*time.Second)
		if !ok || ev.data["state"] != "paid" || ev.data["final"] != true {
			t.Fatalf("after payment: %+v (open %v)", ev, ok)
		}
		s.ends(t, 5*time.Second)

		again := f.open(t, "/pay/"+o.CashierToken+"/events")
		ev, _ = again.next(t, 5*time.Second)
		if ev.data["state"] != "paid" || ev.data["final"] != true {
			t.Fatalf("settled order's stream: %+v", ev)
		}
		again.ends(t, 5*time.Second)
	})
}

// TestEventsExpire: a pending order's stream says "expired" when its time
// is up, and stays open (a late payment may still show).
func TestEventsExpire(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		f := setup(t, st)
		o := f.order(t, func(o *paygate.Order) { o.ExpiresAt = time.Now().Add(1500 * time.Millisecond) })
		s := f.open(t, "/pay/"+o.CashierToken+"/events")
		if ev, _ := s.next(t, 5*time.Second); ev.data["state"] != "pending" {
			t.Fatalf("first: %+v", ev)
		}
		ev, ok := s.next(t, 5*time.Second)
		if !ok || ev.data["state"] != "expired" || ev.data["final"] != false {
			t.Fatalf("at expiry: %+v (open %v)", ev, ok)
		}
		f.move(t, o, paygate.StatusClosed, time.Now())
		ev, ok = s.next(t, 5*time.Second)
		if !ok || ev.data["state"] != "expired" || ev.data["final"] != true {
			t.Fatalf("closed after expiry: %+v (open %v)", ev, ok)
		}
		s.ends(t, 5*time.Second)
	})
}

// TestOneWatcherPerToken: many streams of one order share one watcher,
// which ends when they do.
func TestOneWatcherPerToken(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		f := setup(t, st)
		o, other := f.order(t, nil), f.order(t, nil)
		var streams []*stream
		for range 5 {
			s := f.open(t, "/pay/"+o.CashierToken+"/events")
			s.next(t, 5*time.Second)
			streams = append(streams, s)
		}
		so := f.open(t, "/pay/"+other.CashierToken+"/events")
		so.next(t, 5*time.Second)
		waitFor(t, "two watchers", func() bool { return f.h.Watching() == 2 && f.h.Streams() == 6 })
		f.move(t, o, paygate.StatusClosed, time.Now())
		for _, s := range streams {
			if ev, ok := s.next(t, 5*time.Second); !ok || ev.data["state"] != "closed" {
				t.Fatalf("a stream missed the close: %+v", ev)
			}
			s.ends(t, 5*time.Second)
		}
		so.resp.Body.Close() // the buyer leaves
		waitFor(t, "no watcher left", func() bool { return f.h.Watching() == 0 && f.h.Streams() == 0 })
	})
}

// TestStreamCap: streams beyond MaxStreams get 503 until one closes.
func TestStreamCap(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		f := setup(t, st, func(c *cashier.Config) { c.MaxStreams = 2 })
		o := f.order(t, nil)
		a := f.open(t, "/pay/"+o.CashierToken+"/events")
		f.open(t, "/pay/"+o.CashierToken+"/events")
		status, hd, _ := f.get(t, "/pay/"+o.CashierToken+"/events")
		if status != http.StatusServiceUnavailable || hd.Get("Retry-After") == "" {
			t.Fatalf("third stream: %d, Retry-After %q", status, hd.Get("Retry-After"))
		}
		a.resp.Body.Close()
		waitFor(t, "a free slot", func() bool { return f.h.Streams() == 1 })
		f.open(t, "/pay/"+o.CashierToken+"/events")
	})
}

// TestDrainEndsStreams: a real http.Server's graceful Shutdown with open
// streams returns promptly once the cashier drains, and later streams are
// refused while pages are still served.
func TestDrainEndsStreams(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		f := setup(t, st)
		o := f.order(t, nil)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: f.h, ReadHeaderTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		base := "http://" + ln.Addr().String()
		var streams []*stream
		for range 3 {
			s := openAt(t, base+"/pay/"+o.CashierToken+"/events")
			s.next(t, 5*time.Second)
			streams = append(streams, s)
		}
		// A stream outlives the server's read and write timeouts: its
		// heartbeats still arrive.
		time.Sleep(1500 * time.Millisecond)
		for i, s := range streams {
			for len(s.events) > 0 {
				<-s.events
			}
			select {
			case ev, ok := <-s.events:
				if !ok || ev.name != ":ping" {
					t.Fatalf("stream %d after the server's timeouts: %+v, open %v", i, ev, ok)
				}
			case <-time.After(2 * time.Second):
				t.Fatalf("stream %d: no heartbeat after the server's timeouts", i)
			}
		}
		if f.h.Streams() != 3 {
			t.Fatalf("%d streams open after the server's timeouts, want 3", f.h.Streams())
		}

		start := time.Now()
		f.h.Drain()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		wg.Go(func() {
			for _, s := range streams {
				s.ends(t, 5*time.Second)
			}
		})
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown with open streams: %v after %s", err, time.Since(start))
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Shutdown took %s with drained streams", d)
		}
		wg.Wait()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Fatal(err)
		}

		// After Drain: pages yes, streams no.
		status, _, _ := f.get(t, "/pay/"+o.CashierToken+"/events")
		if status != http.StatusServiceUnavailable {
			t.Fatalf("stream after drain: %d", status)
		}
		if status, _, _ := f.get(t, "/pay/"+o.CashierToken); status != http.StatusOK {
			t.Fatalf("page after drain: %d", status)
		}
	})
}

// openAt opens an event stream at an absolute URL.
func openAt(t *testing.T, url string) *stream {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("stream %s: %d", url, resp.StatusCode)
	}
	s := &stream{resp: resp, events: make(chan streamEvent, 16)}
	go s.read()
	t.Cleanup(func() { resp.Body.Close() })
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRedactPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/pay/abcdefghijklmnopqrstuv":        "/pay/…",
		"/pay/abcdefghijklmnopqrstuv/events": "/pay/…/events",
		"/pay/static/cashier.js":             "/pay/static/cashier.js",
		"/sim/pay":                           "/sim/pay",
	} {
		if got := cashier.RedactPath(in); got != want {
			t.Errorf("RedactPath(%q) = %q, want %q", in, got, want)
		}
	}
}
