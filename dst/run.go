package dst

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/faultstore"
)

// Result is one seed's run.
type Result struct {
	Seed   int64
	Orders int
	// StoreFaults and ChannelFaults count the faults injected at store
	// calls and at channel calls (the simulator's own faults aside).
	StoreFaults, ChannelFaults int
	// Trace is every decision and outcome, free of random ids: the same
	// seed gives the same trace. Hash is its SHA-256.
	Trace      []string
	Hash       string
	Mismatches []Mismatch
}

// Failed reports whether Check found anything.
func (r *Result) Failed() bool { return len(r.Mismatches) > 0 }

// kind is what an order's script does.
type kind string

const (
	kindB28      kind = "barcode28"        // paid at once
	kindB29      kind = "barcode29"        // confirmed on the phone while the loop polls
	kindB27      kind = "barcode27"        // never confirmed: cancelled
	kindB26      kind = "barcode26"        // refused
	kindQRPay    kind = "qr_pay"           // scanned and paid
	kindQRExpire kind = "qr_expire"        // scanned, never paid, expires
	kindQRClose  kind = "qr_close"         // closed by the shop
	kindQRRace   kind = "qr_close_race"    // paid, then the shop closes
	kindQRIdle   kind = "qr_never_scanned" // nobody scans
)

var kinds = []kind{kindB28, kindB29, kindB27, kindB26, kindQRPay, kindQRExpire, kindQRClose, kindQRRace, kindQRIdle}

// step is one scripted action of an order.
type step string

const (
	stepCreate step = "create"
	stepPay    step = "buyer_pay"
	stepScan   step = "buyer_scan"
	stepClose  step = "close"
	stepRefund step = "refund"
	stepGet    step = "get"
)

type order struct {
	name   string
	kind   kind
	amount paygate.Money
	script []step
	next   int
	refund int // refunds asked so far
}

type runner struct {
	ctx    context.Context
	rng    *rand.Rand
	w      *World
	claims map[string]*Claim
	orders []*order
	trace  []string
	busy   bool // an actor is running: no nested actors

	storeRate, chanRate, actorRate float64
	outageFrom, outageLen          int
}

func (r *runner) logf(format string, args ...any) {
	r.trace = append(r.trace, fmt.Sprintf(format, args...))
}

// Run runs one seed against st (a fresh merchant on it; many seeds may share
// one store): a workload of orders with store faults, channel faults and
// "concurrent" actors all decided by one PRNG seeded with seed, then
// Recover, then Check. Everything happens in the caller's goroutine.
func Run(ctx context.Context, st paygate.Store, keys Keys, seed int64) (*Result, error) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed_d57))
	pick := func(xs ...float64) float64 { return xs[rng.IntN(len(xs))] }
	simFaults := alipaysim.Faults{
		UnknownRate: pick(0, 0, 0.05, 0.15), CancelRetryRate: pick(0, 0.2), BadSignatureRate: pick(0, 0, 0.03),
		NotifyDropRate: pick(0, 0, 0.1, 0.3), NotifyDuplicateRate: pick(0, 0.1, 0.3),
	}
	w, err := New(ctx, Config{Store: st, Keys: keys, Seed: int64(rng.Uint64()>>1) | 1, SimFaults: simFaults, Jobs: true})
	if err != nil {
		return nil, err
	}
	defer w.Close()
	r := &runner{ctx: ctx, rng: rng, w: w, claims: map[string]*Claim{},
		storeRate: pick(0, 0.01, 0.03, 0.08), chanRate: pick(0, 0.02, 0.06), actorRate: pick(0.05, 0.2, 0.5)}
	if rng.IntN(3) == 0 { // a database outage: every call in a window fails
		r.outageFrom, r.outageLen = 1+rng.IntN(60), 1+rng.IntN(40)
	}
	r.logf("seed %d: store faults %.2f outage %d+%d, channel faults %.2f, actors %.2f, sim %+v",
		seed, r.storeRate, r.outageFrom, r.outageLen, r.chanRate, r.actorRate, simFaults)
	n := 3 + rng.IntN(5)
	for i := range n {
		r.orders = append(r.orders, r.newOrder(fmt.Sprintf("o%d", i+1)))
	}
	w.Store.SetPlan(r.storeFault)
	w.Net.SetFaults(r.chanFault)
	w.Store.OnCall(func(c faultstore.Call) { r.maybeActor("store " + c.Method) })
	w.Clock.OnSleep(func(d time.Duration) { r.maybeActor("sleep " + d.String()) })
	w.Net.OnCall(func(m string) { r.maybeActor("channel " + m) })
	for r.pending() {
		o := r.pickScripted()
		r.do(o)
		r.maybeActor("between")
		if r.rng.IntN(4) == 0 {
			d := time.Duration(r.rng.IntN(120)) * time.Second
			w.Clock.Advance(d)
			r.logf("clock +%s", d)
		}
	}
	res := &Result{Seed: seed, Orders: n, StoreFaults: w.Store.Injected(), ChannelFaults: w.Net.Injected()}
	r.logf("recover")
	if err := w.Recover(ctx); err != nil {
		return nil, err
	}
	ms, err := w.Check(ctx, r.claims)
	if err != nil {
		return nil, err
	}
	res.Mismatches = ms
	orders, err := w.Orders(ctx)
	if err != nil {
		return nil, err
	}
	for _, o := range orders {
		r.logf("final %s %s refunded=%s", o.OutTradeNo, o.Status, o.RefundedAmount.Yuan())
	}
	for _, m := range ms {
		r.logf("MISMATCH %s", m)
	}
	res.Trace = r.trace
	sum := sha256.Sum256([]byte(strings.Join(r.trace, "\n")))
	res.Hash = hex.EncodeToString(sum[:])
	return res, nil
}

func (r *runner) newOrder(name string) *order {
	o := &order{name: name, kind: kinds[r.rng.IntN(len(kinds))], amount: paygate.Money(1 + r.rng.IntN(100_000))}
	o.script = []step{stepCreate}
	switch o.kind {
	case kindB28, kindB29, kindQRPay:
		if o.kind == kindQRPay {
			o.script = append(o.script, stepPay)
		}
		for range r.rng.IntN(3) {
			o.script = append(o.script, stepRefund)
		}
		if r.rng.IntN(2) == 0 {
			o.script = append(o.script, stepGet)
		}
	case kindQRExpire:
		o.script = append(o.script, stepScan)
	case kindQRClose:
		o.script = append(o.script, stepClose)
	case kindQRRace:
		o.script = append(o.script, stepPay, stepClose)
	}
	return o
}

func (r *runner) pending() bool {
	for _, o := range r.orders {
		if o.next < len(o.script) {
			return true
		}
	}
	return false
}

// pickScripted picks an order with steps left; an order's first step
// (create) is taken in order, so o1 exists before o2.
func (r *runner) pickScripted() *order {
	var open []*order
	for i, o := range r.orders {
		if o.next < len(o.script) {
			open = append(open, o)
			if o.next == 0 && (i == 0 || r.orders[i-1].next > 0) {
				break // the next order to create, then nothing after it
			}
		}
	}
	return open[r.rng.IntN(len(open))]
}

func (r *runner) storeFault(c faultstore.Call) faultstore.When {
	if r.outageLen > 0 && c.N >= r.outageFrom && c.N < r.outageFrom+r.outageLen {
		r.logf("fault store %s before (outage)", c)
		return faultstore.Before
	}
	if r.rng.Float64() >= r.storeRate {
		return faultstore.None
	}
	w := faultstore.When(1 + r.rng.IntN(2))
	r.logf("fault store %s %s", c, w)
	return w
}

func (r *runner) chanFault(method string) faultstore.When {
	if r.rng.Float64() >= r.chanRate {
		return faultstore.None
	}
	w := faultstore.When(1 + r.rng.IntN(2))
	r.logf("fault channel %s %s", method, w)
	return w
}

// outcome names an answer without random ids.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, faultstore.ErrInjected):
		return "err " + paygate.ErrorCode(err) + " (injected)"
	}
	return "err " + paygate.ErrorCode(err)
}

var authCodes = map[kind]string{kindB28: "280000000000000001", kindB29: "290000000000000001",
	kindB27: "270000000000000001", kindB26: "260000000000000001"}

// do runs o's next scripted step.
func (r *runner) do(o *order) {
	s := o.script[o.next]
	o.next++
	r.logf("op %s %s (%s %s)", s, o.name, o.kind, o.amount.Yuan())
	switch s {
	case stepCreate:
		req := paygate.CreateOrder{OutTradeNo: o.name, Subject: Subject(o.name), TotalAmount: o.amount, Mode: paygate.ModeQR,
			Timeout: time.Duration(5+r.rng.IntN(20)) * time.Minute}
		if code, ok := authCodes[o.kind]; ok {
			req.Mode, req.AuthCode, req.Timeout = paygate.ModeBarcode, code, 0
		}
		got, _, err := r.w.Svc.CreateOrder(r.ctx, r.w.Merchant, req)
		r.tell(o.name, got, err)
		r.logf("→ create %s: %s %s", o.name, status(got, err), outcome(err))
	case stepPay, stepScan:
		code := r.qrCode(o.name)
		var err error
		if code == "" {
			err = errors.New("no code")
		} else if s == stepPay {
			err = r.w.Sim.PayQR(r.ctx, code, "")
		} else {
			err = r.w.Sim.ScanQR(r.ctx, code, "")
		}
		r.logf("→ %s %s: %s", s, o.name, errText(err))
	case stepClose:
		got, err := r.w.Svc.CloseOrder(r.ctx, r.w.Merchant, o.name)
		r.tell(o.name, got, err)
		r.logf("→ close %s: %s %s", o.name, status(got, err), outcome(err))
	case stepGet:
		got, err := r.w.Svc.GetOrder(r.ctx, r.w.Merchant, o.name, r.rng.IntN(2) == 0)
		r.tell(o.name, got, err)
		r.logf("→ get %s: %s %s", o.name, status(got, err), outcome(err))
	case stepRefund:
		o.refund++
		no := fmt.Sprintf("%s-r%d", o.name, o.refund)
		amount := o.amount
		if r.rng.IntN(3) > 0 && o.amount > 1 {
			amount = paygate.Money(1 + r.rng.Int64N(int64(o.amount)-1))
		}
		rf, _, err := r.w.Svc.Refund(r.ctx, r.w.Merchant, o.name, paygate.CreateRefund{OutRequestNo: no, Amount: amount})
		st := "-"
		if err == nil {
			st = string(rf.Status)
			if rf.Status == paygate.RefundSucceeded {
				r.claim(o.name).RefundsOK[no] = true
			}
		}
		r.logf("→ refund %s %s %s: %s %s", o.name, no, amount.Yuan(), st, outcome(err))
	}
}

func status(o *paygate.Order, err error) string {
	if err != nil || o == nil {
		return "-"
	}
	return string(o.Status)
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func (r *runner) qrCode(name string) string {
	o, err := r.w.Store.Inner().OrderByOutTradeNo(r.ctx, r.w.Merchant.ID, name)
	if err != nil {
		return ""
	}
	return o.QRCode
}

func (r *runner) claim(name string) *Claim {
	c := r.claims[name]
	if c == nil {
		c = &Claim{RefundsOK: map[string]bool{}}
		r.claims[name] = c
	}
	return c
}

// tell records a final status the shop was answered.
func (r *runner) tell(name string, o *paygate.Order, err error) {
	if err != nil || o == nil || o.Status == paygate.StatusPending {
		return
	}
	told := o.Status
	if told == paygate.StatusRefunded {
		told = paygate.StatusPaid
	}
	r.claim(name).Told = told
}
