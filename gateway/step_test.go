package gateway_test

// Per-step store failures: each scenario runs once clean to count its store
// calls N, then once for every call k in 1..N failing before it happens,
// after it happened (the answer lost; for a commit: committed), and from k
// on (the database down until recovery, as in the outage). Then the
// outage ends (dst.World.Recover: faults off, every notification delivered,
// compensation and refund resolution run past every window) and every order
// must agree with the simulator's truth (dst.World.Check).

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/dst"
	"github.com/paygate/paygate/faultstore"
)

// stepRun is one scenario's run: the world and what the shop was told.
type stepRun struct {
	ctx    context.Context
	w      *dst.World
	claims map[string]*dst.Claim
}

// create creates an order named no and records what the shop was told.
func (r *stepRun) create(no string, mode paygate.Mode, amount paygate.Money, authCode string, timeout time.Duration) (*paygate.Order, error) {
	o, _, err := r.w.Svc.CreateOrder(r.ctx, r.w.Merchant, paygate.CreateOrder{OutTradeNo: no, Subject: dst.Subject(no),
		TotalAmount: amount, Mode: mode, AuthCode: authCode, Timeout: timeout})
	r.tell(no, o, err)
	return o, err
}

// tell records a final status the shop was answered.
func (r *stepRun) tell(no string, o *paygate.Order, err error) {
	if err != nil || o == nil || o.Status == paygate.StatusPending {
		return
	}
	c := r.claim(no)
	c.Told = o.Status
	if o.Status == paygate.StatusRefunded {
		c.Told = paygate.StatusPaid // refunded is paid, then refunded
	}
}

func (r *stepRun) claim(no string) *dst.Claim {
	c := r.claims[no]
	if c == nil {
		c = &dst.Claim{RefundsOK: map[string]bool{}}
		r.claims[no] = c
	}
	return c
}

func (r *stepRun) refund(no, reqNo string, amount paygate.Money) (*paygate.Refund, error) {
	rf, _, err := r.w.Svc.Refund(r.ctx, r.w.Merchant, no, paygate.CreateRefund{OutRequestNo: reqNo, Amount: amount})
	if err == nil && rf.Status == paygate.RefundSucceeded {
		r.claim(no).RefundsOK[reqNo] = true
	}
	return rf, err
}

func (r *stepRun) close(no string) {
	o, err := r.w.Svc.CloseOrder(r.ctx, r.w.Merchant, no)
	r.tell(no, o, err)
}

func (r *stepRun) get(no string, refresh bool) {
	o, err := r.w.Svc.GetOrder(r.ctx, r.w.Merchant, no, refresh)
	r.tell(no, o, err)
}

// qrCode is the code of an order as the store holds it ("" if none).
func (r *stepRun) qrCode(no string) string {
	o, err := r.w.Store.Inner().OrderByOutTradeNo(r.ctx, r.w.Merchant.ID, no)
	if err != nil {
		return ""
	}
	return o.QRCode
}

type stepScenario struct {
	name string
	sim  alipaysim.Faults
	// deliverOnSleep delivers due notifications at every Sleep of the
	// gateway: they arrive while the barcode loop polls.
	deliverOnSleep bool
	run            func(r *stepRun)
	// clean is how the clean run must end: order, status, refunded amount
	// (so that each scenario is known to take its path).
	clean string
}

const (
	auth28 = "280000000000000001"
	auth29 = "290000000000000001"
	auth27 = "270000000000000001"
	auth26 = "260000000000000001"
)

func stepScenarios() []stepScenario {
	paid := func(r *stepRun, no string, amount paygate.Money) bool {
		o, err := r.create(no, paygate.ModeBarcode, amount, auth28, 0)
		return err == nil && o.Status == paygate.StatusPaid
	}
	return []stepScenario{
		{name: "barcode28", clean: "b28 paid 0.00", run: func(r *stepRun) { r.create("b28", paygate.ModeBarcode, 1234, auth28, 0) }},
		{name: "barcode29_polled", clean: "b29 paid 0.00", run: func(r *stepRun) { r.create("b29", paygate.ModeBarcode, 53464, auth29, 0) }},
		{name: "barcode29_notified_while_polling", clean: "b29n paid 0.00", deliverOnSleep: true, run: func(r *stepRun) {
			r.create("b29n", paygate.ModeBarcode, 53464, auth29, 0)
		}},
		{name: "barcode27_cancelled", clean: "b27 closed 0.00", run: func(r *stepRun) { r.create("b27", paygate.ModeBarcode, 800, auth27, 0) }},
		{name: "barcode26_refused", clean: "b26 closed 0.00", run: func(r *stepRun) { r.create("b26", paygate.ModeBarcode, 800, auth26, 0) }},
		{name: "barcode28_pay_unknown", clean: "bu paid 0.00", sim: alipaysim.Faults{UnknownRate: 1, Methods: []string{alipay.MethodPay}}, run: func(r *stepRun) {
			r.create("bu", paygate.ModeBarcode, 900, auth28, 0)
		}},
		{name: "qr_paid_notified", clean: "qp paid 0.00", run: func(r *stepRun) {
			if _, err := r.create("qp", paygate.ModeQR, 1500, "", 15*time.Minute); err != nil {
				return
			}
			if code := r.qrCode("qp"); code != "" {
				r.w.Sim.PayQR(r.ctx, code, "")
			}
			r.w.DeliverAll(r.ctx)
			r.get("qp", false)
		}},
		{name: "qr_expired_closed", clean: "qe closed 0.00", run: func(r *stepRun) {
			if _, err := r.create("qe", paygate.ModeQR, 1500, "", 5*time.Minute); err != nil {
				return
			}
			if code := r.qrCode("qe"); code != "" {
				r.w.Sim.ScanQR(r.ctx, code, "")
			}
			r.w.Clock.Advance(6 * time.Minute)
			r.close("qe")
		}},
		{name: "qr_close_races_payment", clean: "qc paid 0.00", run: func(r *stepRun) {
			if _, err := r.create("qc", paygate.ModeQR, 2500, "", 15*time.Minute); err != nil {
				return
			}
			code, paid := r.qrCode("qc"), false
			r.w.Net.OnCall(func(method string) {
				if (method == alipay.MethodClose || method == alipay.MethodCancel) && code != "" && !paid {
					paid = true
					r.w.Sim.PayQR(r.ctx, code, "") // the buyer pays as the close goes out
				}
			})
			r.close("qc")
			r.w.Net.OnCall(nil)
		}},
		{name: "refund_partial", clean: "rp paid 15.00", run: func(r *stepRun) {
			if paid(r, "rp", 3000) {
				r.refund("rp", "rp-1", 1000)
				r.refund("rp", "rp-2", 500)
			}
		}},
		{name: "refund_full", clean: "rf refunded 30.00", run: func(r *stepRun) {
			if paid(r, "rf", 3000) {
				r.refund("rf", "rf-1", 3000)
			}
		}},
		{name: "refund_unknown_resolved", clean: "ru paid 12.00", run: func(r *stepRun) {
			if !paid(r, "ru", 3000) {
				return
			}
			r.w.Sim.SetFaults(alipaysim.Faults{UnknownRate: 1, Methods: []string{alipay.MethodRefund}})
			rf, err := r.refund("ru", "ru-1", 1200)
			r.w.Sim.SetFaults(alipaysim.Faults{})
			if err == nil && rf.Status == paygate.RefundPending {
				if o, err := r.w.Store.Inner().OrderByOutTradeNo(r.ctx, r.w.Merchant.ID, "ru"); err == nil {
					r.w.Svc.ResolveRefund(r.ctx, o.ID, "ru-1")
				}
			}
		}},
		{name: "notify_closed", clean: "nc closed 0.00", run: func(r *stepRun) {
			if _, err := r.create("nc", paygate.ModeQR, 700, "", 5*time.Minute); err != nil {
				return
			}
			if code := r.qrCode("nc"); code != "" {
				r.w.Sim.ScanQR(r.ctx, code, "")
			}
			r.w.Clock.Advance(6 * time.Minute)
			r.w.DeliverAll(r.ctx)
		}},
		{name: "notify_refund", clean: "nr refunded 40.00", run: func(r *stepRun) {
			if paid(r, "nr", 4000) {
				r.w.DeliverAll(r.ctx) // the payment's notification
				r.refund("nr", "nr-1", 4000)
				r.w.DeliverAll(r.ctx) // the refund's
			}
		}},
	}
}

// outage fails every call from k on, before it happens.
func outage(k int) func(faultstore.Call) faultstore.When {
	return func(c faultstore.Call) faultstore.When {
		if c.N >= k {
			return faultstore.Before
		}
		return faultstore.None
	}
}

// runStep runs sc once on a fresh world over st with plan (nil: clean),
// recovers and checks; it returns the scenario's store calls and the
// mismatches.
func runStep(t *testing.T, st paygate.Store, sc stepScenario, plan func(faultstore.Call) faultstore.When) (int, string, []dst.Mismatch) {
	t.Helper()
	app, ali := keys(t)
	ctx := context.Background()
	w, err := dst.New(ctx, dst.Config{Store: st, Keys: dst.Keys{App: app, Alipay: ali}, Seed: 1, SimFaults: sc.sim})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if sc.deliverOnSleep {
		w.Clock.OnSleep(func(time.Duration) { w.DeliverAll(ctx) })
	}
	r := &stepRun{ctx: ctx, w: w, claims: map[string]*dst.Claim{}}
	w.Store.SetPlan(plan)
	sc.run(r)
	n := w.Store.Calls()
	if err := w.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	ms, err := w.Check(ctx, r.claims)
	if err != nil {
		t.Fatal(err)
	}
	orders, err := w.Orders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var end []string
	for _, o := range orders {
		end = append(end, fmt.Sprintf("%s %s %s", o.OutTradeNo, o.Status, o.RefundedAmount.Yuan()))
	}
	return n, strings.Join(end, "; "), ms
}

// TestStoreFailureEachStep: see the top of this file.
func TestStoreFailureEachStep(t *testing.T) {
	storeKinds(t, func(t *testing.T, open func(t *testing.T) paygate.Store) {
		st := open(t)
		for _, sc := range stepScenarios() {
			t.Run(sc.name, func(t *testing.T) {
				n, end, ms := runStep(t, st, sc, nil)
				if len(ms) > 0 {
					t.Errorf("clean run: %v", ms)
				}
				if end != sc.clean {
					t.Errorf("clean run ended %q; want %q", end, sc.clean)
				}
				if n == 0 {
					t.Fatal("the scenario made no store calls")
				}
				modes := []struct {
					name string
					plan func(k int) func(faultstore.Call) faultstore.When
				}{
					{"before", func(k int) func(faultstore.Call) faultstore.When { return faultstore.FailAt(k, faultstore.Before) }},
					{"after", func(k int) func(faultstore.Call) faultstore.When { return faultstore.FailAt(k, faultstore.After) }},
					{"outage", outage},
				}
				failed := 0
				for k := 1; k <= n; k++ {
					for _, m := range modes {
						var calls []string
						plan := m.plan(k)
						spy := func(c faultstore.Call) faultstore.When {
							w := plan(c)
							if c.N == k {
								calls = append(calls, c.Method)
							}
							return w
						}
						_, _, ms := runStep(t, st, sc, spy)
						if len(ms) > 0 {
							failed++
							t.Errorf("k=%d/%d (%v) %s: %v", k, n, calls, m.name, ms)
						}
					}
				}
				t.Logf("%d store calls, %d runs, %d failed", n, 1+3*n, failed)
			})
		}
	})
}
