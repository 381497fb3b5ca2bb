package dst

import (
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipaysim"
)

// maybeActor lets, with the seed's actor rate, one piece of "concurrent"
// work run now, at point (a store call, a sleep, a channel call, between two
// steps): what in production another goroutine, node or Alipay would do
// meanwhile. Actors do not nest.
func (r *runner) maybeActor(point string) {
	if r.busy || r.rng.Float64() >= r.actorRate {
		return
	}
	r.busy = true
	defer func() { r.busy = false }()
	switch r.rng.IntN(6) {
	case 0, 1:
		a, ok := r.w.Sim.DeliverDue(r.ctx, func(due []alipaysim.NotifyAttempt) int {
			return stableOrder(due)[r.rng.IntN(len(due))]
		})
		if ok {
			r.logf("actor at %s: notify %s %s acked=%v dup=%v", point, subjectOf(a.Form), a.TradeStatus, a.Acked, a.Duplicate)
		}
	case 2:
		if job, err, ok := r.w.RunJob(r.ctx, func(n int) int { return r.rng.IntN(n) }); ok {
			r.logf("actor at %s: job %s %s %s → %s", point, job.Kind, r.orderName(job.OrderID), job.OutRequestNo, outcome(err))
		}
	case 3:
		if r.rng.IntN(2) == 0 {
			if o := r.pickOrder(paygate.StatusPending); o != nil {
				d, err := r.w.Svc.CompensateOrder(r.ctx, o.ID)
				r.logf("actor at %s: compensate %s → %s %s", point, o.OutTradeNo, d, outcome(err))
			}
		} else if o := r.pickOrder(""); o != nil {
			refunds, err := r.w.Store.Inner().RefundsByOrder(r.ctx, o.ID)
			if err != nil {
				return
			}
			for _, rf := range refunds {
				if rf.Status == paygate.RefundPending {
					d, err := r.w.Svc.ResolveRefund(r.ctx, o.ID, rf.OutRequestNo)
					r.logf("actor at %s: resolve %s → %s %s", point, rf.OutRequestNo, d, outcome(err))
					break
				}
			}
		}
	case 4:
		if o := r.pickOrder(paygate.StatusPending); o != nil && o.Mode == paygate.ModeQR {
			if r.rng.IntN(2) == 0 {
				err := r.w.Sim.PayQR(r.ctx, o.QRCode, "")
				r.logf("actor at %s: buyer pays %s → %s", point, o.OutTradeNo, errText(err))
			} else {
				got, err := r.w.Svc.CloseOrder(r.ctx, r.w.Merchant, o.OutTradeNo)
				r.tell(o.OutTradeNo, got, err)
				r.logf("actor at %s: close %s → %s %s", point, o.OutTradeNo, status(got, err), outcome(err))
			}
		}
	case 5:
		d := time.Duration(r.rng.IntN(30)) * time.Second
		r.w.Clock.Advance(d)
		r.logf("actor at %s: clock +%s", point, d)
	}
}

// pickOrder picks one of the merchant's orders in status st ("" any); nil
// if none.
func (r *runner) pickOrder(st paygate.OrderStatus) *paygate.Order {
	all, err := r.w.Orders(r.ctx)
	if err != nil {
		return nil
	}
	var some []*paygate.Order
	for _, o := range all {
		if st == "" || o.Status == st {
			some = append(some, o)
		}
	}
	if len(some) == 0 {
		return nil
	}
	return some[r.rng.IntN(len(some))]
}

func subjectOf(form map[string]string) string {
	if s, ok := form["subject"]; ok {
		return s
	}
	return "?"
}

// orderName is the out_trade_no of the order with id ("?" if none).
func (r *runner) orderName(id int64) string {
	all, err := r.w.Orders(r.ctx)
	if err != nil {
		return "?"
	}
	for _, o := range all {
		if o.ID == id {
			return o.OutTradeNo
		}
	}
	return "?"
}
