package jobs_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/paygate/paygate/jobs"
)

// TestCheckAddr checks addresses against the egress policy without dialing
// any: the private, link-local and public ones here are only ever strings
// passed to the classifier; nothing in these tests connects to them.
func TestCheckAddr(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ addr, kind string }{
		{"127.0.0.1", "loopback"},
		{"127.1.2.3", "loopback"},
		{"::1", "loopback"},
		{"169.254.169.254", "link-local"},
		{"10.0.0.1", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.254", "private"},
		{"192.168.1.1", "private"},
		{"100.64.0.1", "CGNAT"},
		{"100.127.255.254", "CGNAT"},
		{"fc00::1", "unique-local"},
		{"fd12:3456::1", "unique-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"::ffff:127.0.0.1", "IPv4-mapped"},
		{"::ffff:8.8.8.8", "IPv4-mapped"},
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "this-network"},
		{"::", "unspecified"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"255.255.255.255", "reserved"},
		{"240.0.0.1", "reserved"},
		{"192.0.2.1", "documentation"},
		{"198.18.0.1", "benchmarking"},
		{"64:ff9b::a9fe:a9fe", "NAT64"},
		{"2002:a9fe:a9fe::1", "6to4"},
		{"2001:0:4136:e378::1", "Teredo"},
		{"2001:db8::1", "documentation"},
		{"::127.0.0.1", "IPv4-compatible"},
		{"fec0::1", "site-local"},
		// Public: allowed (never dialed here).
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"93.184.215.14", ""},
		{"172.32.0.1", ""},
		{"100.128.0.1", ""},
		{"2606:4700:4700::1111", ""},
		{"2a00:1450:4001:80b::200e", ""},
	} {
		err := jobs.CheckAddr(netip.MustParseAddr(c.addr))
		switch {
		case c.kind == "" && err != nil:
			t.Errorf("CheckAddr(%s) = %v, want allowed", c.addr, err)
		case c.kind != "" && (err == nil || !strings.Contains(err.Error(), c.kind)):
			t.Errorf("CheckAddr(%s) = %v, want refused as %s", c.addr, err, c.kind)
		}
	}
}

// TestCheckDialAddress checks the addresses as the dialer hands them over
// ("ip:port"), never dialing them.
func TestCheckDialAddress(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:80", false},
		{"[::1]:443", false},
		{"[fe80::1%eth0]:80", false},
		{"[::ffff:127.0.0.1]:8080", false},
		{"169.254.169.254:80", false},
		{"10.0.0.1:5432", false},
		{"localhost:5432", false}, // a name: the dialer always hands over an address
		{"8.8.8.8:443", true},
		{"[2606:4700:4700::1111]:443", true},
		{"8.8.8.8", true},
	} {
		err := jobs.CheckDialAddress(c.addr)
		if (err == nil) != c.ok {
			t.Errorf("CheckDialAddress(%s) = %v, want ok %v", c.addr, err, c.ok)
		}
		if refused := (*jobs.RefusedError)(nil); err != nil && !errors.As(err, &refused) {
			t.Errorf("CheckDialAddress(%s) = %v, want a *RefusedError", c.addr, err)
		}
	}
}

// countingServer is a webhook receiver on 127.0.0.1 that counts the
// connections it accepts, so a test can tell that a refusal came before
// any connection.
func countingServer(t *testing.T) (srv *httptest.Server, conns, requests *atomic.Int32) {
	t.Helper()
	conns, requests = &atomic.Int32{}, &atomic.Int32{}
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, conns, requests
}

// TestWebhookEgressRefused: with private networks not allowed, deliveries
// to loopback, however spelled, are refused before any connection; the
// event is dead-lettered at once with an attempt saying why. Allowed, the
// same receiver gets them.
func TestWebhookEgressRefused(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) backend) {
		srv, conns, requests := countingServer(t)
		port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
		e := setup(t, open, setupOptions{egress: &jobs.EgressPolicy{AllowHTTP: true}})
		for _, c := range []struct{ url, url2, reason string }{
			{srv.URL + "/hooks", "", "refused: 127.0.0.1 is a loopback address (webhooks.allow_private_networks is off)"},
			{"http://localhost:" + port + "/hooks", "", "refused: 127.0.0.1 is a loopback address"},
			{"http://[::1]:" + port + "/hooks", "", "refused: ::1 is a loopback address"},
			{"http://[::ffff:127.0.0.1]:" + port + "/hooks", "", "refused: 127.0.0.1 is a loopback address"},
			{"http://127.0.0.1.:" + port + "/hooks", "", "is a number but not an IP address"},
			{"http://0x7f000001:" + port + "/hooks", "", "is a number but not an IP address"},
			{"http://2130706433:" + port + "/hooks", "", "is a number but not an IP address"},
			{"http://127.1:" + port + "/hooks", "", "is a number but not an IP address"},
			{"http://0177.0.0.1:" + port + "/hooks", "", "is a number but not an IP address"},
			{"http://user:hunter2@127.0.0.1:" + port + "/hooks", "http://127.0.0.1:" + port + "/hooks", "must not carry user information"},
			{"ftp://127.0.0.1:" + port + "/hooks", "ftp://127.0.0.1:" + port + "/hooks", "absolute http or https URL"},
		} {
			ev := e.emit(t, c.url)
			eventually(t, "the refusal of "+c.url, dead(t, e, ev.ID))
			a := e.attempts(t, ev.ID)
			if len(a) != 1 || a[0].Success || a[0].StatusCode != 0 || !strings.Contains(a[0].Excerpt, c.reason) {
				t.Fatalf("%s: attempts %+v, want one saying %q", c.url, a, c.reason)
			}
			want := c.url
			if c.url2 != "" {
				want = c.url2
			}
			if a[0].URL != want {
				t.Errorf("%s: the attempt records URL %q, want %q", c.url, a[0].URL, want)
			}
		}
		e.settle(t)
		if n, r := conns.Load(), requests.Load(); n != 0 || r != 0 {
			t.Fatalf("the loopback receiver got %d connections and %d requests; every delivery had to be refused before connecting", n, r)
		}

		// https only: the default policy refuses plain http before anything.
		strict := setup(t, open, setupOptions{egress: &jobs.EgressPolicy{AllowPrivateNetworks: true}})
		ev := strict.emit(t, srv.URL+"/hooks")
		eventually(t, "the refusal of http", dead(t, strict, ev.ID))
		if a := strict.attempts(t, ev.ID); len(a) != 1 || !strings.Contains(a[0].Excerpt, "plain http webhook URLs are not allowed (webhooks.allow_http is off)") {
			t.Fatalf("attempts %+v, want one refusing plain http", a)
		}
		strict.settle(t)
		if n := conns.Load(); n != 0 {
			t.Fatalf("the receiver got %d connections for a plain http delivery that was not allowed", n)
		}

		// Allowed: the same receiver gets the delivery.
		open2 := setup(t, open, setupOptions{egress: &jobs.EgressPolicy{AllowPrivateNetworks: true, AllowHTTP: true}})
		ev = open2.emit(t, "http://localhost:"+port+"/hooks")
		eventually(t, "delivery with private networks allowed", delivered(t, open2, ev.ID))
		if r := requests.Load(); r != 1 {
			t.Fatalf("the receiver got %d requests, want 1", r)
		}
	})
}
