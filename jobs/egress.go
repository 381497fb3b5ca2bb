package jobs

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/paygate/paygate"
)

// EgressPolicy says where webhook deliveries may go. Its zero value is the
// safe one: https only, public addresses only.
type EgressPolicy struct {
	// AllowPrivateNetworks lets deliveries connect to loopback, private,
	// link-local, unique-local, CGNAT and other non-public addresses. Off,
	// such a connection is refused when dialing, after the name is resolved,
	// so a name that resolves (or is rebound) inside is refused too.
	AllowPrivateNetworks bool
	// AllowHTTP lets deliveries use plain http:// URLs; off, only https.
	AllowHTTP bool
}

// RefusedError is a delivery that the policy refused to send: nothing was
// sent, and its reason is recorded with the attempt.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "refused: " + e.Reason }

// checkURL refuses, before anything is resolved or dialed, a webhook URL
// that is wrong whatever its address, or plain http when p forbids it.
func (p EgressPolicy) checkURL(raw string) error {
	if err := paygate.CheckWebhookURL(raw); err != nil {
		return &RefusedError{Reason: paygate.ErrorMessage(err)}
	}
	if u, _ := url.Parse(raw); u.Scheme == "http" && !p.AllowHTTP {
		return &RefusedError{Reason: "plain http webhook URLs are not allowed (webhooks.allow_http is off); use https"}
	}
	return nil
}

// control is the webhook dialer's check of each address it is about to
// connect to: after resolution, before the connection, so it sees the
// address actually dialed.
func (p EgressPolicy) control(_ context.Context, _, address string, _ syscall.RawConn) error {
	if p.AllowPrivateNetworks {
		return nil
	}
	return CheckDialAddress(address)
}

// CheckDialAddress refuses an "ip:port" (or bare IP) address that is not a
// public unicast address; see CheckAddr.
func CheckDialAddress(address string) error {
	host := address
	if h, _, err := net.SplitHostPort(address); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return &RefusedError{Reason: fmt.Sprintf("%q is not an IP address", host)}
	}
	return CheckAddr(ip)
}

// CheckAddr refuses an address a webhook must not reach unless private
// networks are allowed: loopback, private (RFC 1918), link-local,
// unique-local, CGNAT, unspecified, multicast, broadcast, IPv4-mapped and
// other IPv6 forms that embed an IPv4 address (NAT64, 6to4, Teredo),
// documentation, benchmarking and reserved ranges. The error is a
// *RefusedError naming the address and the kind.
func CheckAddr(ip netip.Addr) error {
	kind := addrKind(ip)
	if kind == "" {
		return nil
	}
	return &RefusedError{Reason: fmt.Sprintf("%s is a %s address (webhooks.allow_private_networks is off)", ip, kind)}
}

// addrKind names why ip is not a public unicast address, or is "".
func addrKind(ip netip.Addr) string {
	switch {
	case !ip.IsValid():
		return "invalid"
	case ip.Is4In6():
		return "IPv4-mapped IPv6"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		if ip.Is6() {
			return "unique-local"
		}
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast():
		return "multicast"
	}
	ip = ip.WithZone("")
	for _, r := range reserved {
		if r.prefix.Contains(ip) {
			return r.kind
		}
	}
	if !ip.IsGlobalUnicast() {
		return "non-unicast"
	}
	return ""
}

// reserved are the ranges netip has no predicate for.
var reserved = []struct {
	prefix netip.Prefix
	kind   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "CGNAT (shared)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved (IETF)"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // and 255.255.255.255, broadcast
	{netip.MustParsePrefix("::/96"), "IPv4-compatible IPv6"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64 (embeds IPv4)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64 (embeds IPv4)"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001::/32"), "Teredo (embeds IPv4)"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("2002::/16"), "6to4 (embeds IPv4)"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
}

// newWebhookClient is the HTTP client of deliveries: its own transport (no
// proxy from the environment, which would connect for it, unchecked), a
// dialer that checks every address it connects to, WebhookTimeout per
// attempt, and no redirects followed (a redirect is a failed attempt, its
// status recorded).
func newWebhookClient(p EgressPolicy) *http.Client {
	dialer := &net.Dialer{Timeout: WebhookTimeout, KeepAlive: 30 * time.Second, ControlContext: p.control}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   WebhookTimeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   WebhookTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
