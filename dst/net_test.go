package dst_test

import (
	"context"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/dst"
	"github.com/paygate/paygate/faultstore"
)

// TestNetFaults: a channel call failed before never reaches the simulator;
// one failed after took effect there though the gateway saw an error. A
// barcode 28… pay shows it: closed and unpaid, or paid all the same.
func TestNetFaults(t *testing.T) {
	cases := []struct {
		when     faultstore.When
		wantPaid bool
	}{{faultstore.Before, false}, {faultstore.After, true}}
	st := openStore(t)
	for _, c := range cases {
		t.Run(c.when.String(), func(t *testing.T) {
			ctx := context.Background()
			w, err := dst.New(ctx, dst.Config{Store: st, Keys: testKeys(t), Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			w.Net.SetFaults(func(m string) faultstore.When {
				if m == alipay.MethodPay {
					return c.when
				}
				return faultstore.None
			})
			o, _, err := w.Svc.CreateOrder(ctx, w.Merchant, paygate.CreateOrder{OutTradeNo: "n1", Subject: dst.Subject("n1"),
				TotalAmount: 100, Mode: paygate.ModeBarcode, AuthCode: "280000000000000001"})
			if err != nil {
				t.Fatal(err)
			}
			if w.Net.Injected() != 1 {
				t.Fatalf("Injected = %d", w.Net.Injected())
			}
			paidAtChannel := false
			for _, tr := range w.Sim.Trades() {
				paidAtChannel = paidAtChannel || tr.PaidAt != nil
			}
			if paidAtChannel != c.wantPaid || (o.Status == paygate.StatusPaid) != c.wantPaid {
				t.Fatalf("paid at the channel %v, order %s; want paid=%v", paidAtChannel, o.Status, c.wantPaid)
			}
			if ms, err := w.Check(ctx, nil); err != nil || len(ms) > 0 {
				t.Fatalf("Check: %v %v", ms, err)
			}
		})
	}
}

// TestClockSleep: Sleep moves virtual time at once and runs the hook after;
// an ended context moves nothing.
func TestClockSleep(t *testing.T) {
	c := dst.NewClock(dst.Epoch())
	var seen []time.Duration
	c.OnSleep(func(d time.Duration) { seen = append(seen, c.Now().Sub(dst.Epoch())) })
	if err := c.Sleep(context.Background(), 3*time.Second); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Hour); err == nil {
		t.Fatal("Sleep on an ended context succeeded")
	}
	if got := c.Now().Sub(dst.Epoch()); got != 3*time.Second || len(seen) != 1 || seen[0] != 3*time.Second {
		t.Fatalf("clock moved %s, hook saw %v; want 3s and [3s]", got, seen)
	}
}
