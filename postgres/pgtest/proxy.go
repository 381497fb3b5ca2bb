package pgtest

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Proxy forwards TCP connections from a loopback port to the test
// database, so a test can take the database away from a store (Stop: the
// port refuses and open connections break) and give it back (Start), without
// touching the shared server.
type Proxy struct {
	t      testing.TB
	addr   string // 127.0.0.1:PORT, the same across Stop and Start
	target string // the database's host:port, loopback only

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewProxy reserves a loopback port for the database at URL(t), not yet
// listening: a store pointed at ProxyURL sees a database that is down until
// Start. It is stopped when t ends.
func NewProxy(t testing.TB) *Proxy {
	t.Helper()
	u, err := url.Parse(URL(t))
	if err != nil {
		t.Fatalf("PAYGATE_TEST_POSTGRES_URL: %v", err)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "5432"
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		t.Fatalf("pgtest.Proxy forwards only to a loopback database, not %q", host)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{t: t, addr: ln.Addr().String(), target: net.JoinHostPort(host, port), conns: map[net.Conn]struct{}{}}
	ln.Close()
	t.Cleanup(p.Stop)
	return p
}

// URL is url (a postgres:// URL) with its host and port replaced by the
// proxy's.
func (p *Proxy) URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		p.t.Fatalf("pgtest.Proxy: %v", err)
	}
	u.Host = p.addr
	return u.String()
}

// Start listens and forwards until Stop.
func (p *Proxy) Start() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("pgtest.Proxy: listen %s again: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.forward(c)
		}
	}()
}

func (p *Proxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // stopped meanwhile
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		defer p.wg.Done()
		_, _ = io.Copy(dst, src)
		dst.Close()
		src.Close()
	}
	p.wg.Add(2)
	go pipe(up, c)
	go pipe(c, up)
}

// Stop closes the port (new connections are refused) and every forwarded
// connection (a store's open connections break), and waits for its
// goroutines.
func (p *Proxy) Stop() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
	p.mu.Unlock()
	p.wg.Wait()
}
