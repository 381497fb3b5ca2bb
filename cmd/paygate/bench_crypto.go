package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paygate/paygate/alipay"
)

// benchCryptoDefault is how long `bench --crypto` runs each measurement.
const benchCryptoDefault = 3 * time.Second

// benchSignContent is about the size of a precreate's string to sign.
var benchSignContent = []byte(strings.Repeat("app_id=2021000000000001&biz_content={...}&", 10))

// cryptoReport is what `paygate bench --crypto` measured: operations per
// second on one core and on all of them.
type cryptoReport struct {
	Cores      int        `json:"cores"` // GOMAXPROCS
	DurationS  float64    `json:"duration_s_each"`
	RSASign    cryptoRate `json:"rsa2048_sign_per_s"`
	RSAVerify  cryptoRate `json:"rsa2048_verify_per_s"`
	HMACSHA256 cryptoRate `json:"hmac_sha256_per_s"`
	Note       string     `json:"note"`
}

// cryptoOp is one measured operation and where its rates go.
type cryptoOp struct {
	name string
	dst  *cryptoRate
	fn   func() error
}

type cryptoRate struct {
	OneCore  float64 `json:"one_core"`
	AllCores float64 `json:"all_cores"`
}

// runBenchCrypto measures SHA256withRSA (RSA-2048, as Alipay signs) signs
// and verifies per second, and HMAC-SHA256 (the merchant API's signature)
// per second, each for d on one goroutine and then on GOMAXPROCS.
func runBenchCrypto(ctx context.Context, d time.Duration, set, jsonOut bool, stdout, stderr io.Writer) error {
	if !set {
		d = benchCryptoDefault
	}
	if d <= 0 {
		return fmt.Errorf("bench: --duration must be positive")
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	sig, err := alipay.Sign(key, benchSignContent)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	mac := []byte("0123456789abcdef0123456789abcdef")
	rep := &cryptoReport{Cores: runtime.GOMAXPROCS(0), DurationS: d.Seconds(),
		Note: "SHA256withRSA PKCS#1 v1.5 over a 420-byte string; HMAC-SHA256 over the same string"}
	ops := []cryptoOp{
		{"RSA-2048 sign", &rep.RSASign, func() error { _, err := alipay.Sign(key, benchSignContent); return err }},
		{"RSA-2048 verify", &rep.RSAVerify, func() error { return alipay.Verify(&key.PublicKey, benchSignContent, sig) }},
		{"HMAC-SHA256", &rep.HMACSHA256, func() error {
			h := hmac.New(sha256.New, mac)
			h.Write(benchSignContent)
			h.Sum(nil)
			return nil
		}},
	}
	for _, op := range ops {
		for _, workers := range []int{1, rep.Cores} {
			if isTerminal(stderr) {
				fmt.Fprintf(stderr, "%s on %d core(s)…\n", op.name, workers)
			}
			rate, err := cryptoRateOf(ctx, d, workers, op.fn)
			if err != nil {
				return fmt.Errorf("bench: %s: %w", op.name, err)
			}
			if workers == 1 {
				op.dst.OneCore = rate
			} else {
				op.dst.AllCores = rate
			}
		}
	}
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(stdout, "crypto on this machine, %g s each, GOMAXPROCS %d\n", d.Seconds(), rep.Cores)
	fmt.Fprintf(stdout, "  %-18s %12s %12s\n", "per second", "one core", "all cores")
	for _, op := range ops {
		fmt.Fprintf(stdout, "  %-18s %12.0f %12.0f\n", op.name, op.dst.OneCore, op.dst.AllCores)
	}
	return nil
}

// cryptoRateOf runs fn on workers goroutines for d and returns calls per
// second in all.
func cryptoRateOf(ctx context.Context, d time.Duration, workers int, fn func() error) (float64, error) {
	var n atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(end) {
				for range 16 {
					if err := fn(); err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
				}
				n.Add(16)
			}
		})
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}
