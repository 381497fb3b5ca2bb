package main

import (
	"context"
	"crypto/rsa"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/client"
)

// benchConcurrency is how many merchants' requests are in flight at once.
const benchConcurrency = 16

// benchSignSamples is how many RSA signatures are timed, right before the
// order workload, to put the order rate beside this machine's sign rate.
const benchSignSamples = 200

// BenchmarkCreateQROrder measures the whole path of one QR order: a signed
// merchant API call (client, HMAC) → the gateway's HTTP server as newApp wires
// it and a.serve runs it → alipay.trade.precreate to a real alipaysim.Server
// over HTTP → the store, SQLite or PostgreSQL. benchConcurrency workers each
// create orders with unique out_trade_no until b.N are made.
//
// It reports orders/s, the p50 and p99 latency of one request, and, timed in
// the same run just before the workload, rsa-signs/s: one goroutine's rate of
// RSA-2048 SHA256withRSA signatures. orders-per-rsa-sign-capacity is
// orders/s ÷ rsa-signs/s, a figure that stays comparable on a noisy machine.
//
// Each order costs the gateway one RSA sign (the request to Alipay) and one
// RSA verify (the response), and the simulator one verify and one sign. A
// verify (public exponent 65537) is tens of times cheaper than a sign, so
// an order is about two signs of CPU: on one machine, where the simulator's
// RSA work competes with the gateway's, orders/s cannot exceed about
// GOMAXPROCS/2 × rsa-signs/s (ratio GOMAXPROCS/2); with Alipay elsewhere
// the gateway's own ceiling is twice that. alipay-conns/order counts the
// connections the gateway opened to Alipay per order (keep-alive at work).
//
//	go test -run '^$' -bench CreateQROrder -benchtime 2000x ./cmd/paygate/
func BenchmarkCreateQROrder(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		benchCreateQROrder(b, "sqlite:"+filepath.Join(b.TempDir(), dbFile))
	})
	b.Run("postgres", func(b *testing.B) {
		dbURL, _ := postgresSchemaURL(b) // skips, saying so, without PAYGATE_TEST_POSTGRES_URL
		benchCreateQROrder(b, dbURL)
	})
}

func benchCreateQROrder(b *testing.B, dbURL string) {
	g := startLiveGateway(b, dbURL, func(c *config) {
		c.RateLimit.PerSecond = 0 // one merchant sends everything: the per-merchant limit would measure itself
	})
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = benchConcurrency // keep-alive for every worker, not the default 2
	b.Cleanup(transport.CloseIdleConnections)
	c := client.New(g.base, g.creds.AccessKey, g.creds.SecretKey,
		client.WithHTTPClient(&http.Client{Transport: transport, Timeout: time.Minute}))
	ctx := context.Background()
	prefix := "B" + strings.ToUpper(randomHex(4)) + "_"
	// One warm-up order: connections, prepared statements, the simulator's book.
	if _, err := c.CreateOrder(ctx, benchOrder(prefix+"warm")); err != nil {
		b.Fatalf("warm-up order: %v", err)
	}
	appKey, err := alipay.LoadPrivateKey(liveAppKeyFile)
	if err != nil {
		b.Fatal(err)
	}
	signsPerSec := rsaSignRate(b, appKey, benchSignSamples)

	latencies := make([][]time.Duration, benchConcurrency)
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	connsBefore := g.simConns.Load()
	b.ResetTimer()
	start := time.Now()
	for w := range benchConcurrency {
		lat := make([]time.Duration, 0, b.N/benchConcurrency+1)
		wg.Go(func() {
			defer func() { latencies[w] = lat }()
			for !failed.Load() {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				t0 := time.Now()
				o, err := c.CreateOrder(ctx, benchOrder(fmt.Sprintf("%s%d", prefix, i)))
				d := time.Since(t0)
				if err == nil && (o.Status != "pending" || o.QRCode == "") {
					err = fmt.Errorf("order %+v has no QR code", o)
				}
				if err != nil {
					if failed.CompareAndSwap(false, true) {
						b.Errorf("order %d: %v", i, err)
					}
					return
				}
				lat = append(lat, d)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failed.Load() {
		return
	}
	all := slices.Concat(latencies...)
	slices.Sort(all)
	ordersPerSec := float64(len(all)) / elapsed.Seconds()
	b.ReportMetric(ordersPerSec, "orders/s")
	b.ReportMetric(ms(percentile(all, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(all, 0.99)), "p99-ms")
	b.ReportMetric(signsPerSec, "rsa-signs/s")
	b.ReportMetric(ordersPerSec/signsPerSec, "orders-per-rsa-sign-capacity")
	// New connections to Alipay per order: near 0 when the gateway keeps
	// them alive, near 1 when it dials (and, against Alipay, handshakes TLS)
	// for most calls.
	b.ReportMetric(float64(g.simConns.Load()-connsBefore)/float64(len(all)), "alipay-conns/order")
}

func benchOrder(outTradeNo string) client.CreateOrderRequest {
	return client.CreateOrderRequest{OutTradeNo: outTradeNo, Subject: "bench coffee", TotalAmount: "9.90", Mode: "qr"}
}

// percentile is the nearest-rank q-quantile of sorted.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[max(0, int(math.Ceil(q*float64(len(sorted))))-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rsaSignContent is about the size of a precreate's string to sign.
var rsaSignContent = []byte(strings.Repeat("app_id=2021000000000042&biz_content={...}&", 10))

// rsaSignRate times n signatures in one goroutine and returns signs per second.
func rsaSignRate(tb testing.TB, key *rsa.PrivateKey, n int) float64 {
	tb.Helper()
	start := time.Now()
	for range n {
		if _, err := alipay.Sign(key, rsaSignContent); err != nil {
			tb.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkRSASign is one RSA-2048 SHA256withRSA (PKCS#1 v1.5) signature as
// alipay.Sign makes it for every request to Alipay: the unit of CPU that
// BenchmarkCreateQROrder's orders-per-rsa-sign-capacity counts in.
func BenchmarkRSASign(b *testing.B) {
	key, err := alipay.LoadPrivateKey(liveAppKeyFile)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := alipay.Sign(key, rsaSignContent); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signs/s")
}
