package dst_test

import (
	"context"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/dst"
	"github.com/paygate/paygate/faultstore"
)

// TestJobs: a job exists only if its transaction committed (the answer
// lost or not), and RunJob runs it when due: a QR order's compensation
// closes it once expired.
func TestJobs(t *testing.T) {
	st := openStore(t)
	cases := []struct {
		when     faultstore.When
		wantJobs int
	}{{faultstore.None, 1}, {faultstore.Before, 0}, {faultstore.After, 1}}
	for _, c := range cases {
		t.Run(c.when.String(), func(t *testing.T) {
			ctx := context.Background()
			w, err := dst.New(ctx, dst.Config{Store: st, Keys: testKeys(t), Seed: 1, Jobs: true})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			failed := false
			w.Store.SetPlan(func(call faultstore.Call) faultstore.When {
				if call.Method == "Tx.commit" && !failed {
					failed = true
					return c.when
				}
				return faultstore.None
			})
			w.Svc.CreateOrder(ctx, w.Merchant, paygate.CreateOrder{OutTradeNo: "j1", Subject: dst.Subject("j1"),
				TotalAmount: 100, Mode: paygate.ModeQR, Timeout: 5 * time.Minute})
			w.Store.SetPlan(nil)
			if got := w.Jobs.Len(); got != c.wantJobs {
				t.Fatalf("%d jobs queued; want %d", got, c.wantJobs)
			}
			if c.wantJobs == 0 {
				return
			}
			if _, _, ok := w.RunJob(ctx, nil); ok {
				t.Fatal("a job ran before it was due")
			}
			w.Clock.Advance(10 * time.Minute)
			if job, err, ok := w.RunJob(ctx, nil); !ok || err != nil || job.Kind != paygate.JobCompensateOrder {
				t.Fatalf("RunJob = %+v, %v, %v", job, err, ok)
			}
			o, err := w.Store.Inner().OrderByOutTradeNo(ctx, w.Merchant.ID, "j1")
			if err != nil || o.Status != paygate.StatusClosed || w.Jobs.Len() != 0 {
				t.Fatalf("order %+v (%v), %d jobs left; want closed and none", o, err, w.Jobs.Len())
			}
		})
	}
}
