package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/netutil"
)

// writeMargin is added to the longest a handler may take when the write
// timeout is derived.
const writeMargin = 10 * time.Second

// httpLimits protect an HTTP server from slow, idle and too many clients:
// without them a slow body or an idle keep-alive holds a connection (and a
// file descriptor) for ever.
type httpLimits struct {
	MaxConnections    int           // open connections at most; more wait in the listen backlog
	ReadHeaderTimeout time.Duration // the request line and headers
	ReadTimeout       time.Duration // the whole request, body included
	WriteTimeout      time.Duration // from the end of the headers to the end of the answer
	IdleTimeout       time.Duration // a keep-alive connection waiting for its next request
	MaxHeaderBytes    int
}

// serverLimits are the node's limits from the config. longest is the
// longest a request may take to answer (a barcode payment's wait): the write
// timeout, when not set, is the read timeout plus longest plus a margin, and
// a write timeout that is set must exceed that much, or every slow barcode
// answer would be cut.
func serverLimits(cfg config, longest time.Duration) (httpLimits, error) {
	s := cfg.Server
	l := httpLimits{
		MaxConnections: s.MaxConnections, ReadHeaderTimeout: s.ReadHeaderTimeout, ReadTimeout: s.ReadTimeout,
		WriteTimeout: s.WriteTimeout, IdleTimeout: s.IdleTimeout, MaxHeaderBytes: s.MaxHeaderBytes,
	}
	switch {
	case l.MaxConnections <= 0:
		return l, errors.New("config: server.max_connections must be positive")
	case l.ReadHeaderTimeout <= 0 || l.ReadTimeout <= 0 || l.IdleTimeout <= 0:
		return l, errors.New("config: server.read_header_timeout, read_timeout and idle_timeout must be positive")
	case l.ReadHeaderTimeout > l.ReadTimeout:
		return l, errors.New("config: server.read_header_timeout must not exceed server.read_timeout")
	case l.MaxHeaderBytes < 4<<10:
		return l, errors.New("config: server.max_header_bytes must be at least 4096")
	}
	need := l.ReadTimeout + longest + writeMargin
	if l.WriteTimeout == 0 {
		l.WriteTimeout = need
	} else if l.WriteTimeout < need {
		return l, fmt.Errorf("config: server.write_timeout %v is shorter than read_timeout + the longest barcode wait + %v = %v: "+
			"barcode answers would be cut; raise it or leave it 0", l.WriteTimeout, writeMargin, need)
	}
	return l, nil
}

// newHTTPServer is an http.Server for h with the limits l.
func newHTTPServer(h http.Handler, l httpLimits) *http.Server {
	return &http.Server{
		Handler: h, ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout,
		WriteTimeout: l.WriteTimeout, IdleTimeout: l.IdleTimeout, MaxHeaderBytes: l.MaxHeaderBytes,
	}
}

// limitListener accepts at most n connections open at once; the next ones
// wait in the kernel's backlog until one closes.
func limitListener(ln net.Listener, n int) net.Listener {
	return netutil.LimitListener(ln, n)
}

// parsePrefixes reads a comma-separated list of CIDRs or bare addresses
// (a bare address is its own /32 or /128).
func parsePrefixes(key, list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("config: %s: %q is not an address or CIDR like 10.0.0.0/8", key, f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
