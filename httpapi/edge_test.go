package httpapi_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/httpapi"
)

// countingLookup counts the store lookups of merchants.
type countingLookup struct {
	httpapi.MerchantLookup
	n atomic.Int64
}

func (c *countingLookup) MerchantByAccessKey(ctx context.Context, key string) (*paygate.Merchant, error) {
	c.n.Add(1)
	return c.MerchantLookup.MerchantByAccessKey(ctx, key)
}

// countLookups wraps the fixture's merchant lookup; read it after setup.
func countLookups(lk **countingLookup) func(*httpapi.Config) {
	return func(c *httpapi.Config) {
		*lk = &countingLookup{MerchantLookup: c.Merchants}
		c.Merchants = *lk
	}
}

func TestAuthSignatureOneHexDigitOff(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, pos := range []int{0, 31, 63} {
		t.Run(strconv.Itoa(pos), func(t *testing.T) {
			status, hdr, b := f.send(t, req{path: listPath, header: func(h http.Header) {
				sig := []byte(h.Get("X-Signature"))
				if sig[pos] == '0' {
					sig[pos] = '1'
				} else {
					sig[pos] = '0'
				}
				h.Set("X-Signature", string(sig))
			}})
			wantError(t, status, hdr, b, http.StatusUnauthorized, "UNAUTHORIZED", authFailedMessage)
		})
	}
	if n := len(f.orders.Calls()); n != 0 {
		t.Fatalf("service calls = %d, want 0", n)
	}
}

// A request signed at the future edge of the window is acceptable until
// 2×tolerance after it arrives: its nonce must be kept that long.
func TestAuthReplayAtTheWindowsEdge(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *httpapi.Config) { c.Tolerance = time.Minute })
	ts := strconv.FormatInt(f.clock.Now().Add(time.Minute).UnixMilli(), 10)
	nonce := "edge-nonce-1"
	if status, _, b := f.send(t, req{path: listPath, timestamp: ts, nonce: nonce}); status != http.StatusOK {
		t.Fatalf("signed at the future edge: %d %s", status, b)
	}
	for _, after := range []time.Duration{time.Minute + time.Second, time.Minute - time.Second} { // 61 s, then 2 min in all
		f.clock.Add(after)
		status, hdr, b := f.send(t, req{path: listPath, timestamp: ts, nonce: nonce})
		wantError(t, status, hdr, b, http.StatusUnauthorized, "UNAUTHORIZED", authFailedMessage)
	}
	if n := countCalls(f.orders, "ListOrders"); n != 1 {
		t.Fatalf("ListOrders ran %d times, want 1", n)
	}
}

func TestMerchantCache(t *testing.T) {
	t.Parallel()
	var lk *countingLookup
	f := setup(t, countLookups(&lk))
	for range 5 {
		if status, _, b := f.send(t, req{path: listPath}); status != http.StatusOK {
			t.Fatalf("%d %s", status, b)
		}
		f.send(t, req{path: listPath, secret: "forged"})
		f.send(t, req{path: listPath, accessKey: "ak_nobody"})
	}
	if n := lk.n.Load(); n != 2 {
		t.Fatalf("store lookups = %d, want 2 (one per key)", n)
	}
	// After the TTL the store is asked again: a disabled merchant or a new
	// secret is seen within it.
	f.clock.Add(httpapi.DefaultMerchantCacheTTL)
	f.send(t, req{path: listPath})
	if n := lk.n.Load(); n != 3 {
		t.Fatalf("store lookups after the TTL = %d, want 3", n)
	}
	// A merchant created after its key was tried is known after the TTL.
	other := &paygate.Merchant{Name: "Later", AccessKey: "ak_nobody", SecretKey: "sk_later", WebhookSecret: "wh"}
	if err := f.store.CreateMerchant(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(httpapi.DefaultMerchantCacheTTL)
	if status, _, b := f.send(t, req{path: listPath, accessKey: "ak_nobody", secret: "sk_later"}); status != http.StatusOK {
		t.Fatalf("new merchant after the TTL: %d %s", status, b)
	}
}

func TestLimitsBeforeAuthentication(t *testing.T) {
	t.Parallel()
	t.Run("per address", func(t *testing.T) {
		t.Parallel()
		var lk *countingLookup
		f := setup(t, countLookups(&lk), func(c *httpapi.Config) {
			c.IPRateLimit = httpapi.RateLimit{PerSecond: 1, Burst: 3}
		})
		for i := range 3 {
			f.send(t, req{path: listPath, accessKey: fmt.Sprintf("ak_unknown_%d", i)})
		}
		before := lk.n.Load()
		// Another spelling of the client's address changes nothing: no
		// proxy is trusted.
		status, hdr, b := f.send(t, req{path: listPath, header: func(h http.Header) { h.Set("X-Forwarded-For", "203.0.113.9") }})
		wantError(t, status, hdr, b, http.StatusTooManyRequests, "RATE_LIMITED", "Retry-After")
		if hdr.Get("Retry-After") != "1" {
			t.Errorf("Retry-After = %q, want 1", hdr.Get("Retry-After"))
		}
		if n := lk.n.Load(); n != before {
			t.Fatalf("a throttled request looked up the merchant (%d lookups, want %d)", n, before)
		}
		f.clock.Add(time.Second)
		if status, _, b := f.send(t, req{path: listPath}); status != http.StatusOK {
			t.Fatalf("after Retry-After: %d %s", status, b)
		}
	})
	t.Run("failures per address", func(t *testing.T) {
		t.Parallel()
		var lk *countingLookup
		f := setup(t, countLookups(&lk), func(c *httpapi.Config) {
			c.AuthFailureLimit = httpapi.RateLimit{PerSecond: 0.5, Burst: 2}
		})
		for range 2 {
			status, _, _ := f.send(t, req{path: listPath, secret: "forged"})
			if status != http.StatusUnauthorized {
				t.Fatalf("forgery: %d", status)
			}
		}
		before := lk.n.Load()
		// The address has failed enough: a key the cache does not know
		// waits, without a lookup...
		status, hdr, b := f.send(t, req{path: listPath, accessKey: "ak_unknown_x"})
		wantError(t, status, hdr, b, http.StatusTooManyRequests, "RATE_LIMITED", "Retry-After")
		if hdr.Get("Retry-After") != "2" {
			t.Errorf("Retry-After = %q, want 2", hdr.Get("Retry-After"))
		}
		if n := lk.n.Load(); n != before {
			t.Fatalf("a throttled request looked up the merchant (%d lookups, want %d)", n, before)
		}
		// ...but the real merchant behind the same address (a NAT, a proxy)
		// is not locked out by the forger: a known key costs an HMAC only.
		if status, _, b := f.send(t, req{path: listPath}); status != http.StatusOK {
			t.Fatalf("the merchant from a throttled address: %d %s", status, b)
		}
		if status, _, _ := f.send(t, req{path: listPath, secret: "forged"}); status != http.StatusUnauthorized {
			t.Fatalf("a forgery under the known key from a throttled address: %d, want 401", status)
		}
		if n := lk.n.Load(); n != before {
			t.Fatalf("requests under a cached key looked up the merchant (%d lookups, want %d)", n, before)
		}
		f.clock.Add(2 * time.Second)
		if status, _, b := f.send(t, req{path: listPath}); status != http.StatusOK {
			t.Fatalf("after Retry-After: %d %s", status, b)
		}
		// Successes cost nothing of the failure budget.
		for range 5 {
			if status, _, b := f.send(t, req{path: listPath}); status != http.StatusOK {
				t.Fatalf("good request: %d %s", status, b)
			}
		}
	})
	t.Run("unknown claimed key", func(t *testing.T) {
		t.Parallel()
		var lk *countingLookup
		f := setup(t, countLookups(&lk), func(c *httpapi.Config) {
			c.MerchantCacheTTL = -1 // every request is a lookup
			c.UnknownKeyLimit = httpapi.RateLimit{PerSecond: 1, Burst: 2}
		})
		for range 2 {
			f.send(t, req{path: listPath, accessKey: "ak_guess", secret: "x"})
		}
		status, hdr, b := f.send(t, req{path: listPath, accessKey: "ak_guess", secret: "x"})
		wantError(t, status, hdr, b, http.StatusTooManyRequests, "RATE_LIMITED", "Retry-After")
		if n := lk.n.Load(); n != 2 {
			t.Fatalf("lookups = %d, want 2: the third was throttled before it", n)
		}
		// Another key has its own bucket, and a real merchant's key never
		// runs out: forgeries under it do not count.
		for range 5 {
			f.send(t, req{path: listPath, secret: "forged"})
		}
		if status, _, b := f.send(t, req{path: listPath}); status != http.StatusOK {
			t.Fatalf("the real merchant: %d %s", status, b)
		}
	})
	t.Run("trusted proxy", func(t *testing.T) {
		t.Parallel()
		f := setup(t, func(c *httpapi.Config) {
			c.IPRateLimit = httpapi.RateLimit{PerSecond: 1, Burst: 1}
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		})
		from := func(ip string) func(http.Header) { return func(h http.Header) { h.Set("X-Forwarded-For", ip) } }
		if status, _, b := f.send(t, req{path: listPath, header: from("203.0.113.1")}); status != http.StatusOK {
			t.Fatalf("first client: %d %s", status, b)
		}
		if status, _, b := f.send(t, req{path: listPath, header: from("203.0.113.2")}); status != http.StatusOK {
			t.Fatalf("second client behind the proxy: %d %s", status, b)
		}
		status, hdr, b := f.send(t, req{path: listPath, header: from("203.0.113.1")})
		wantError(t, status, hdr, b, http.StatusTooManyRequests, "RATE_LIMITED", "")
	})
}

// The merchant's limit comes before the nonce: refused requests leave no
// nonce behind.
func TestRateLimitBeforeNonce(t *testing.T) {
	t.Parallel()
	var nonces *httpapi.MemoryNonces
	f := setup(t, func(c *httpapi.Config) {
		nonces = httpapi.NewMemoryNonces(c.Now)
		c.Nonces = nonces
		c.RateLimit = httpapi.RateLimit{PerSecond: 0.5, Burst: 2}
	})
	for i := range 5 {
		status, _, _ := f.send(t, req{path: listPath})
		if want := map[bool]int{true: 200, false: 429}[i < 2]; status != want {
			t.Fatalf("request %d: %d, want %d", i+1, status, want)
		}
	}
	if n := nonces.Len(); n != 2 {
		t.Fatalf("nonces held = %d, want 2 (refused requests record none)", n)
	}
}

func TestNonceCacheFullAnswers429(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *httpapi.Config) { c.Nonces = httpapi.NewMemoryNoncesLimit(c.Now, 2) })
	for range 2 {
		if status, _, b := f.send(t, req{path: listPath}); status != http.StatusOK {
			t.Fatalf("%d %s", status, b)
		}
	}
	status, hdr, b := f.send(t, req{path: listPath})
	wantError(t, status, hdr, b, http.StatusTooManyRequests, "RATE_LIMITED", "Retry-After")
	if hdr.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	if n := countCalls(f.orders, "ListOrders"); n != 2 {
		t.Fatalf("ListOrders ran %d times, want 2", n)
	}
}

// A request whose access key is unknown is answered 401 from its headers,
// without the body being read: here the body never comes.
func TestHeadersCheckedBeforeBody(t *testing.T) {
	t.Parallel()
	var lk *countingLookup
	f := setup(t, countLookups(&lk))
	for _, tt := range []struct{ name, key string }{{"unknown key", "ak_nobody"}, {"malformed headers", ""}} {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := url.Parse(f.url)
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(30 * time.Second)) // a hang fails instead of blocking the run
			ts := strconv.FormatInt(f.clock.Now().UnixMilli(), 10)
			head := "POST " + listPath + " HTTP/1.1\r\nHost: " + u.Host + "\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n"
			if tt.key != "" {
				head += "X-Access-Key: " + tt.key + "\r\nX-Timestamp: " + ts + "\r\nX-Nonce: nonce-body-1\r\nX-Signature: " + strings.Repeat("ab", 32) + "\r\n"
			}
			if _, err := conn.Write([]byte(head + "\r\n{")); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer before the body: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", resp.StatusCode)
			}
		})
	}
}

func TestNotifyAllowlistAndLimit(t *testing.T) {
	t.Parallel()
	form := url.Values{"out_trade_no": {"N1"}, "trade_status": {"TRADE_SUCCESS"}}
	t.Run("not listed", func(t *testing.T) {
		t.Parallel()
		f := setup(t, func(c *httpapi.Config) {
			c.NotifyAllowlist = []netip.Prefix{netip.MustParsePrefix("110.75.0.0/16")}
		})
		status, _, b := postForm(t, f.url+"/notify/alipay", form)
		if status != http.StatusForbidden || string(b) != "failure" {
			t.Fatalf("%d %q, want 403 failure", status, b)
		}
		// A forwarded address is not believed: no proxy is trusted.
		hr, _ := http.NewRequest("POST", f.url+"/notify/alipay", strings.NewReader(form.Encode()))
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		hr.Header.Set("X-Forwarded-For", "110.75.1.1")
		if status, _, _ := do(t, hr); status != http.StatusForbidden {
			t.Fatalf("spoofed X-Forwarded-For: %d, want 403", status)
		}
		if n := len(f.orders.Calls()); n != 0 {
			t.Fatalf("service calls = %d, want 0", n)
		}
	})
	t.Run("listed", func(t *testing.T) {
		t.Parallel()
		f := setup(t, func(c *httpapi.Config) {
			c.NotifyAllowlist = []netip.Prefix{netip.MustParsePrefix("110.75.0.0/16"), netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
		})
		if status, _, b := postForm(t, f.url+"/notify/alipay", form); status != 200 || string(b) != "success" {
			t.Fatalf("%d %q", status, b)
		}
	})
	t.Run("rate", func(t *testing.T) {
		t.Parallel()
		f := setup(t, func(c *httpapi.Config) { c.NotifyRateLimit = httpapi.RateLimit{PerSecond: 1, Burst: 1} })
		if status, _, b := postForm(t, f.url+"/notify/alipay", form); status != 200 || string(b) != "success" {
			t.Fatalf("first: %d %q", status, b)
		}
		status, hdr, b := postForm(t, f.url+"/notify/alipay", form)
		if status != http.StatusTooManyRequests || string(b) != "failure" || hdr.Get("Retry-After") != "1" {
			t.Fatalf("second: %d %q Retry-After %q", status, b, hdr.Get("Retry-After"))
		}
		if n := len(f.orders.Calls()); n != 1 {
			t.Fatalf("service calls = %d, want 1", n)
		}
	})
}
