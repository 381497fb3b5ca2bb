package alipaysim_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
)

// TestConcurrentUse drives buyers, calls, the sweeper and the notifier at
// once (run with -race), then checks the book adds up.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	e := setup(t, func(c *alipaysim.Config) {
		c.DataDir = t.TempDir()
		c.Faults = alipaysim.Faults{NotifyDuplicateRate: 0.5, NotifyDelayMS: 5}
	})
	const workers, each = 6, 3
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				out := fmt.Sprintf("CC%d_%d", w, i)
				code := e.precreate(out, "3.00", rcv.url())
				if err := e.sim.PayQR(ctx(t), code, ""); err != nil {
					t.Error(err)
					return
				}
				if _, err := e.refund(out, "R1", "1.00"); err != nil {
					t.Error(err)
				}
				_ = e.sim.Trades()
				_ = e.sim.Notifications()
				if _, err := e.query(out); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	paid := 0
	for _, v := range e.sim.Trades() {
		if v.TradeStatus == alipay.TradeSuccess && v.RefundFee == yuan("1.00") {
			paid++
		}
	}
	if paid != workers*each {
		t.Fatalf("%d trades paid and refunded, want %d", paid, workers*each)
	}
	eventually(t, "every notification acknowledged", func() bool {
		acked := map[string]bool{}
		for _, a := range e.sim.Notifications() {
			if a.Acked {
				acked[a.NotifyID] = true
			}
		}
		return len(acked) == 2*workers*each
	})
}
