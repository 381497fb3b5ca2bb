package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate/client"
)

// floodWorkers is how many goroutines send forged requests at once, and
// floodRate how many they try to send per second in all (open loop: the
// same offered load whatever the answers cost, as far as the machine keeps
// up; flood-req/s shows what was reached).
const (
	floodWorkers = 16
	floodRate    = 1000
)

// BenchmarkGetOrderUnderFlood measures a real merchant's GET
// /api/v1/orders/{id} (p50, p99) while a flood of requests under the same
// merchant's access key with bad signatures runs from another loopback
// address (127.0.0.2), on SQLite and PostgreSQL, with the edge's protections
// off (every forgery is a store lookup and the decryption of the merchant's
// secrets, as before they existed) and on (the defaults: the merchant cache
// and the limits per client address before authentication). quiet is the
// same GET with no flood. flood-req/s is the forgeries answered per second;
// flood-429-share how many of them were refused before authentication.
//
//	go test -run '^$' -bench GetOrderUnderFlood -benchtime 400x ./cmd/paygate/
func BenchmarkGetOrderUnderFlood(b *testing.B) {
	stores := map[string]func(b *testing.B) string{
		"sqlite":   func(b *testing.B) string { return "sqlite:" + filepath.Join(b.TempDir(), dbFile) },
		"postgres": func(b *testing.B) string { u, _ := postgresSchemaURL(b); return u },
	}
	for _, store := range []string{"sqlite", "postgres"} {
		for _, mode := range []string{"quiet", "unprotected", "protected"} {
			b.Run(store+"/"+mode, func(b *testing.B) {
				g := startLiveGateway(b, stores[store](b), func(c *config) {
					c.RateLimit.PerSecond = 0 // the real merchant's own limit is not what is measured
					if mode == "unprotected" {
						c.Auth.MerchantCacheTTL = -1
						c.RateLimit.IPPerSecond, c.RateLimit.AuthFailuresPerSecond, c.RateLimit.UnknownKeyPerSecond = 0, 0, 0
					}
				})
				benchGetUnderFlood(b, g, mode != "quiet")
			})
		}
	}
}

func benchGetUnderFlood(b *testing.B, g *liveGateway, flood bool) {
	ctx := context.Background()
	real := client.New(g.base, g.creds.AccessKey, g.creds.SecretKey)
	if _, err := real.CreateOrder(ctx, benchOrder("FLOOD1")); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, limited atomic.Int64
	if flood {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
		tr := &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: floodWorkers}
		b.Cleanup(tr.CloseIdleConnections)
		hc := &http.Client{Transport: tr, Timeout: time.Minute}
		for w := range floodWorkers {
			wg.Go(func() {
				tick := time.NewTicker(time.Second * floodWorkers / floodRate)
				defer tick.Stop()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					req, _ := http.NewRequest("GET", g.base+"/api/v1/orders/FLOOD1", nil)
					ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
					req.Header.Set("X-Access-Key", g.creds.AccessKey)
					req.Header.Set("X-Timestamp", ts)
					req.Header.Set("X-Nonce", fmt.Sprintf("flood-%d-%d", w, i))
					req.Header.Set("X-Signature", client.Sign("not-the-secret", "GET", "/api/v1/orders/FLOOD1", nil, g.creds.AccessKey, ts, "x", nil))
					resp, err := hc.Do(req)
					if err != nil {
						continue
					}
					resp.Body.Close()
					sent.Add(1)
					if resp.StatusCode == http.StatusTooManyRequests {
						limited.Add(1)
					}
				}
			})
		}
		time.Sleep(500 * time.Millisecond) // let the flood reach its pace
	}
	lat := make([]time.Duration, 0, b.N)
	sentBefore := sent.Load()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := real.GetOrder(ctx, "FLOOD1", false); err != nil {
			b.Fatalf("the real merchant's GET: %v", err)
		}
		lat = append(lat, time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	b.ReportMetric(ms(percentile(lat, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
	if flood {
		b.ReportMetric(float64(sent.Load()-sentBefore)/elapsed.Seconds(), "flood-req/s")
		if n := sent.Load(); n > 0 {
			b.ReportMetric(float64(limited.Load())/float64(n), "flood-429-share")
		}
	}
}
