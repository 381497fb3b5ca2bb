package recon

import (
	"context"
	"fmt"
	"time"

	"github.com/paygate/paygate"
)

// merger compares the sorted bill with the sorted books, one channel
// number at a time.
type merger struct {
	r          *Reconciler
	ctx        context.Context
	rep        *paygate.Reconciliation
	start, end time.Time
	nextDay    string
	ch         paygate.Channel
	title      string // the channel as reports write it
	nos        refundNos
	// carriedIn: entries the previous day carried to this one.
	carriedIn map[crossKey]bool
	diffs     []*difference
	loggedML  int
}

type crossKey struct {
	kind         paygate.BookKind
	channelNo    string
	outRequestNo string
}

// difference is a difference and what its repair would do.
type difference struct {
	*paygate.ReconDifference
	repair func() (repairResult, error) // nil: not repairable
}

type repairResult struct {
	applied              bool
	before, after, about string
}

// group is one channel number's entries on both sides.
type group struct {
	key     string
	bill    []entry
	pays    []paygate.BookEntry
	refunds []paygate.BookEntry
	// order is the books' order of that number, looked up only when an
	// entry of the bill has no partner in the day's books.
	order     *paygate.Order
	orderRead bool
	orderRefs []*paygate.Refund
}

func (r *Reconciler) newMerger(ctx context.Context, rep *paygate.Reconciliation, start, end time.Time) (*merger, error) {
	m := &merger{r: r, ctx: ctx, rep: rep, start: start, end: end, nextDay: DayOf(end),
		ch: r.ch, title: r.cfg.Bills.Title(), nos: r.cfg.Bills.refundNos(), carriedIn: map[crossKey]bool{}}
	prev, err := r.cfg.Store.Reconciliation(ctx, DayOf(start.AddDate(0, 0, -1)), r.ch)
	switch {
	case err == nil:
		for _, x := range prev.CrossDay {
			if x.Carried && x.BillDay == rep.Day {
				m.carriedIn[crossKey{x.Kind, x.ChannelNo, x.OutRequestNo}] = true
			}
		}
	case paygate.ErrorCode(err) != paygate.ENotFound:
		return nil, fmt.Errorf("reconcile %s: read the day before's carries: %w", rep.Day, err)
	}
	return m, nil
}

// merge walks the bill and the books' streams in channel-number order.
func (m *merger) merge(bill entryIter, books []*bookStream) error {
	var be entry
	haveBill := bill.next(&be)
	last := make([]string, len(books))
	for {
		key, any := "", false
		if haveBill {
			key, any = be.key, true
		}
		for _, s := range books {
			if e := s.peek(); e != nil && (!any || e.ChannelNo < key) {
				key, any = e.ChannelNo, true
			}
		}
		if !any {
			break
		}
		g := &group{key: key}
		for haveBill && be.key == key {
			g.bill = append(g.bill, be)
			haveBill = bill.next(&be)
		}
		for i, s := range books {
			for e := s.peek(); e != nil && e.ChannelNo == key; e = s.peek() {
				if e.ChannelNo < last[i] {
					return fmt.Errorf("reconcile %s: the books' scan is not in channel-number order (%q after %q)", m.rep.Day, e.ChannelNo, last[i])
				}
				last[i] = e.ChannelNo
				if e.Kind == paygate.BookPayment {
					g.pays = append(g.pays, *e)
				} else {
					g.refunds = append(g.refunds, *e)
				}
				s.take()
			}
		}
		if err := m.compare(g); err != nil {
			return err
		}
		if err := m.ctx.Err(); err != nil {
			return err
		}
	}
	if err := bill.err(); err != nil {
		return fmt.Errorf("reconcile %s: %w", m.rep.Day, err)
	}
	for _, s := range books {
		if s.err != nil {
			return fmt.Errorf("reconcile %s: %w", m.rep.Day, s.err)
		}
	}
	return nil
}

// inDay reports whether the books date t within the day itself (not in a
// margin).
func (m *merger) inDay(t time.Time) bool { return !t.Before(m.start) && t.Before(m.end) }

// compare compares one channel number's entries.
func (m *merger) compare(g *group) error {
	for i := range g.pays {
		if m.inDay(g.pays[i].At) {
			m.rep.LocalRows++
		}
	}
	for i := range g.refunds {
		if m.inDay(g.refunds[i].At) {
			m.rep.LocalRows++
		}
	}
	var billPays, billRefunds []*entry
	for i := range g.bill {
		if g.bill[i].kind == kindPayment {
			billPays = append(billPays, &g.bill[i])
		} else {
			if err := m.readRefundNo(g, &g.bill[i]); err != nil {
				return err
			}
			billRefunds = append(billRefunds, &g.bill[i])
		}
	}
	if err := m.comparePayments(g, billPays, billRefunds); err != nil {
		return err
	}
	return m.compareRefunds(g, billPays, billRefunds)
}

// readRefundNo turns a bill refund's number at the channel into paygate's
// out_request_no where it is one of paygate's (see refundNos): the day's
// refunds of the books first, then the read-back form, then the order's
// refunds (a hashed number of a refund the day's books do not hold). A
// number that is none of them stays as the channel has it: the refund is
// then compared as one the books lack (made at the channel's console, a
// reverse's refund), never dropped.
func (m *merger) readRefundNo(g *group, b *entry) error {
	raw := b.outRequestNo
	for i := range g.refunds {
		if no := g.refunds[i].OutRequestNo; no == raw || m.nos.out(g.key, no) == raw {
			b.outRequestNo = g.refunds[i].OutRequestNo
			return nil
		}
	}
	if back := m.nos.back(g.key, raw); back != raw {
		b.outRequestNo = back
		return nil
	}
	if m.nos.out(g.key, raw) == raw {
		return nil // the channel takes paygate's numbers as they are
	}
	o, err := m.order(g)
	if err != nil || o == nil {
		return err
	}
	for _, r := range g.orderRefs {
		if r.OutRequestNo != raw && m.nos.out(g.key, r.OutRequestNo) == raw {
			b.outRequestNo = r.OutRequestNo
			return nil
		}
	}
	return nil
}

// otherChannel reports whether o was taken, or decided, on another channel
// than the bill's: money on this bill for it is not its payment (an auto
// order's late payment on the side that lost, refunded by policy).
func (m *merger) otherChannel(o *paygate.Order) bool {
	return o.Channel != paygate.ChannelAuto && o.Channel.OrDefault() != m.ch
}

func (m *merger) comparePayments(g *group, billPays, billRefunds []*entry) error {
	var local *paygate.BookEntry
	if len(g.pays) > 0 {
		local = &g.pays[0] // channel numbers are unique
	}
	for i, b := range billPays {
		if i > 0 {
			// A channel has one payment per out_trade_no; a second is
			// money the books cannot hold.
			m.add(MissingLocal, g, b, nil, "the bill has a second payment for this number: an operator must look")
			continue
		}
		if local != nil {
			if err := m.matchPayment(g, b, local); err != nil {
				return err
			}
			continue
		}
		o, err := m.order(g)
		if err != nil {
			return err
		}
		switch {
		case o == nil:
			m.add(MissingLocal, g, b, nil, "a payment at "+m.title+" that paygate does not know (made outside paygate?): an operator must look")
		case m.otherChannel(o) && refundedInFull(b, billRefunds):
			// An auto order paid on its other channel, and this one's
			// late payment given back the same day: no money stays.
			m.rep.Matched++
		case m.otherChannel(o):
			m.add(StatusMismatch, g, b, o, fmt.Sprintf("paid at %s, but the order is %s's (%s) here: a late payment of an auto order, "+
				"or money on the wrong channel: check that %s refunded it; an operator must look", m.title, channelTitle(o.Channel), o.Status, m.title))
		case !o.PaidAt.IsZero() && (o.Status == paygate.StatusPaid || o.Status == paygate.StatusRefunded):
			// Paid here, dated on another day by the books.
			e := bookOfOrder(o)
			if err := m.matchPayment(g, b, &e); err != nil {
				return err
			}
		case o.Status == paygate.StatusPending:
			d := m.add(StatusMismatch, g, b, o, "paid at "+m.title+", pending here: --repair queries the channel and settles it")
			id := o.ID
			d.repair = func() (repairResult, error) { return m.repairPayment(id) }
		case o.Status == paygate.StatusClosed && refundedInFull(b, billRefunds):
			// Closed here, and the channel gave the money back the same
			// day (a cancel that refunded, WeChat Pay's reverse of a paid
			// barcode, a late payment refunded by policy): no money
			// stays, as the books say.
			m.rep.Matched++
		default:
			m.add(StatusMismatch, g, b, o, "paid at "+m.title+", closed here (a late payment, or a cancel that refunded): check that "+
				m.title+" refunded it; an operator must look")
		}
	}
	if local != nil && len(billPays) == 0 {
		return m.unmatchedLocal(g, local)
	}
	return nil
}

// matchPayment compares a payment on both sides.
func (m *merger) matchPayment(g *group, b *entry, local *paygate.BookEntry) error {
	var err error
	switch {
	case b.amount != local.Amount:
		_, err = m.addBook(AmountMismatch, g, b, local, "amounts differ: an operator must look (nothing is changed by itself)")
	case local.TradeNo != "" && b.tradeNo != local.TradeNo:
		_, err = m.addBook(StatusMismatch, g, b, local, m.title+"'s trade number differs from the one recorded: an operator must look")
	default:
		m.rep.Matched++
		m.crossMatch(local)
	}
	return err
}

// crossMatch keeps an entry the books date on another day than this
// bill's, so that the other day's run does not call it missing.
func (m *merger) crossMatch(e *paygate.BookEntry) {
	if m.inDay(e.At) {
		return
	}
	m.rep.CrossDay = append(m.rep.CrossDay, &paygate.ReconCrossDay{Kind: e.Kind, ChannelNo: e.ChannelNo,
		OutRequestNo: e.OutRequestNo, BookDay: DayOf(e.At), BillDay: m.rep.Day})
}

// unmatchedLocal decides about an entry of the books the bill lacks.
func (m *merger) unmatchedLocal(g *group, e *paygate.BookEntry) error {
	key := crossKey{e.Kind, e.ChannelNo, e.OutRequestNo}
	switch {
	case e.At.Before(m.start):
		// The day before's, near midnight: a difference only if it was
		// carried here and this bill lacks it too.
		if m.carriedIn[key] {
			_, err := m.addBook(MissingChannel, g, nil, e, "on neither its own day's bill nor the next: an operator must look")
			return err
		}
		return nil
	case !e.At.Before(m.end):
		return nil // the next day's
	case !e.At.Before(m.end.Add(-m.r.cfg.Margin)):
		// Just before midnight: the channel may date it on the next day.
		m.rep.CrossDay = append(m.rep.CrossDay, &paygate.ReconCrossDay{Kind: e.Kind, ChannelNo: e.ChannelNo,
			OutRequestNo: e.OutRequestNo, BookDay: m.rep.Day, BillDay: m.nextDay, Carried: true})
		return nil
	}
	xs, err := m.r.cfg.Store.ReconCrossDayOf(m.ctx, m.ch, e.Kind, e.ChannelNo, e.OutRequestNo)
	if err != nil {
		return fmt.Errorf("reconcile %s: %w", m.rep.Day, err)
	}
	for _, x := range xs {
		if !x.Carried && x.BillDay != m.rep.Day {
			return nil // on another day's bill
		}
	}
	what := "paygate counts a payment the bill does not have: an operator must look (nothing is changed by itself)"
	if e.Kind == paygate.BookRefund {
		what = "paygate counts a refund the bill does not have: an operator must look (nothing is changed by itself)"
	}
	_, err = m.addBook(MissingChannel, g, nil, e, what)
	return err
}

func (m *merger) compareRefunds(g *group, billPays, billRefunds []*entry) error {
	local := map[string]*paygate.BookEntry{}
	for i := range g.refunds {
		local[g.refunds[i].OutRequestNo] = &g.refunds[i]
	}
	for _, b := range billRefunds {
		if l := local[b.outRequestNo]; l != nil {
			delete(local, b.outRequestNo)
			if l.Amount != b.amount {
				if _, err := m.addBook(RefundMismatch, g, b, l, "refund amounts differ: an operator must look"); err != nil {
					return err
				}
			} else {
				m.rep.Matched++
				m.crossMatch(l)
			}
			continue
		}
		if err := m.billRefundAlone(g, b, billPays); err != nil {
			return err
		}
	}
	for i := range g.refunds {
		if e := &g.refunds[i]; local[e.OutRequestNo] == e {
			if err := m.unmatchedLocal(g, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// billRefundAlone decides about a refund of the bill the day's books lack.
func (m *merger) billRefundAlone(g *group, b *entry, billPays []*entry) error {
	o, err := m.order(g)
	if err != nil {
		return err
	}
	if o == nil {
		m.add(MissingLocal, g, b, nil, "a refund at "+m.title+" of a trade paygate does not know: an operator must look")
		return nil
	}
	if m.otherChannel(o) {
		// Not the order's own channel: its refunds here are a late
		// payment's, given back in full by policy.
		if b.amount == o.TotalAmount {
			m.rep.Matched++
		} else {
			m.add(RefundMismatch, g, b, o, fmt.Sprintf("refunded at %s, but the order is %s's: an operator must look", m.title, channelTitle(o.Channel)))
		}
		return nil
	}
	var r *paygate.Refund
	for _, x := range g.orderRefs {
		if x.OutRequestNo == b.outRequestNo {
			r = x
		}
	}
	switch {
	case r != nil && r.Status == paygate.RefundSucceeded && r.Amount == b.amount:
		m.rep.Matched++ // recorded, dated on another day
		e := bookOfRefund(o, r)
		m.crossMatch(&e)
	case r != nil && r.Status == paygate.RefundSucceeded:
		m.add(RefundMismatch, g, b, o, "refund amounts differ: an operator must look")
	case r != nil && r.Status == paygate.RefundPending:
		d := m.add(RefundMismatch, g, b, o, "refunded at "+m.title+", pending here: --repair settles it")
		id, no := o.ID, b.outRequestNo
		d.repair = func() (repairResult, error) { return m.repairRefund(id, no) }
	case r != nil:
		m.add(RefundMismatch, g, b, o, "refunded at "+m.title+", recorded failed here: an operator must look")
	case o.Status == paygate.StatusClosed && b.amount == o.TotalAmount:
		m.rep.Matched++ // a closed order's trade refunded in full: a cancel's or a late payment's refund
	case o.Status == paygate.StatusPaid || o.Status == paygate.StatusPending && len(billPays) > 0:
		// Made at the channel (its console, say) and never recorded
		// here. A pending order is settled first, by its own difference.
		d := m.add(RefundMismatch, g, b, o, "refunded at "+m.title+", not recorded here: --repair records it from the channel's refund query")
		id, no := o.ID, b.outRequestNo
		d.repair = func() (repairResult, error) { return m.repairRefund(id, no) }
	default:
		m.add(RefundMismatch, g, b, o, fmt.Sprintf("refunded at %s, not recorded here, and the order is %s: an operator must look", m.title, o.Status))
	}
	return nil
}

// order looks up the books' order of g's channel number, once.
func (m *merger) order(g *group) (*paygate.Order, error) {
	if g.orderRead {
		return g.order, nil
	}
	o, err := m.r.cfg.Store.OrderByChannelNo(m.ctx, g.key)
	if paygate.ErrorCode(err) == paygate.ENotFound {
		g.orderRead = true
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reconcile %s: look up %s: %w", m.rep.Day, g.key, err)
	}
	refs, err := m.r.cfg.Store.RefundsByOrder(m.ctx, o.ID)
	if err != nil {
		return nil, fmt.Errorf("reconcile %s: look up %s's refunds: %w", m.rep.Day, g.key, err)
	}
	g.order, g.orderRefs, g.orderRead = o, refs, true
	return o, nil
}

func refundedInFull(pay *entry, refunds []*entry) bool {
	var sum paygate.Money
	for _, r := range refunds {
		sum += r.amount
	}
	return sum == pay.amount
}

func bookOfOrder(o *paygate.Order) paygate.BookEntry {
	return paygate.BookEntry{Kind: paygate.BookPayment, ChannelNo: o.ChannelNo, TradeNo: o.TradeNo, Amount: o.TotalAmount, At: o.PaidAt}
}

func bookOfRefund(o *paygate.Order, r *paygate.Refund) paygate.BookEntry {
	return paygate.BookEntry{Kind: paygate.BookRefund, ChannelNo: o.ChannelNo, OutRequestNo: r.OutRequestNo,
		Amount: r.Amount, At: r.SucceededAt}
}

// add records a difference whose local side is an order (or nothing).
func (m *merger) add(kind string, g *group, b *entry, o *paygate.Order, action string) *difference {
	var local any
	d := &paygate.ReconDifference{Kind: kind, ChannelNo: g.key, Action: action}
	if o != nil {
		d.MerchantID, d.OrderID, d.OutTradeNo, d.TradeNo = o.MerchantID, o.ID, o.OutTradeNo, o.TradeNo
		refunded := o.RefundedAmount
		s := side{Kind: paygate.BookPayment, Status: string(o.Status), Amount: o.TotalAmount, Refunded: &refunded, TradeNo: o.TradeNo}
		if !o.PaidAt.IsZero() {
			s.At = &o.PaidAt
		}
		if b != nil && b.kind == kindRefund {
			s = m.localRefundSide(g, o, b.outRequestNo)
		}
		local = s
	}
	return m.record(d, b, local)
}

// localRefundSide shows a refund as the books have it (or nothing of it:
// the order, with what it has refunded).
func (m *merger) localRefundSide(g *group, o *paygate.Order, outRequestNo string) side {
	for _, r := range g.orderRefs {
		if r.OutRequestNo == outRequestNo {
			s := side{Kind: paygate.BookRefund, Status: string(r.Status), Amount: r.Amount, OutRequestNo: r.OutRequestNo}
			if !r.SucceededAt.IsZero() {
				s.At = &r.SucceededAt
			}
			return s
		}
	}
	refunded := o.RefundedAmount
	return side{Kind: paygate.BookPayment, Status: string(o.Status), Amount: o.TotalAmount, Refunded: &refunded, TradeNo: o.TradeNo}
}

// addBook records a difference whose local side is an entry of the books:
// the entry as scanned, and the order's details looked up.
func (m *merger) addBook(kind string, g *group, b *entry, e *paygate.BookEntry, action string) (*difference, error) {
	o, err := m.order(g)
	if err != nil {
		return nil, err
	}
	d := &paygate.ReconDifference{Kind: kind, ChannelNo: g.key, Action: action, TradeNo: e.TradeNo, OutRequestNo: e.OutRequestNo}
	at := e.At.UTC()
	s := side{Kind: e.Kind, Status: string(paygate.RefundSucceeded), Amount: e.Amount, TradeNo: e.TradeNo, OutRequestNo: e.OutRequestNo, At: &at}
	if o != nil {
		d.MerchantID, d.OrderID, d.OutTradeNo = o.MerchantID, o.ID, o.OutTradeNo
		if d.TradeNo == "" {
			d.TradeNo = o.TradeNo
		}
		if e.Kind == paygate.BookPayment {
			refunded := o.RefundedAmount
			s.Status, s.Refunded = string(o.Status), &refunded
		}
	}
	return m.record(d, b, s), nil
}

func (m *merger) record(d *paygate.ReconDifference, b *entry, local any) *difference {
	var channel any
	if b != nil {
		at := time.UnixMicro(b.at).UTC()
		channel = side{Kind: b.kind.book(), Status: "success", Amount: b.amount, TradeNo: b.tradeNo, OutRequestNo: b.outRequestNo, At: &at}
		if d.TradeNo == "" {
			d.TradeNo = b.tradeNo
		}
		if b.outRequestNo != "" {
			d.OutRequestNo = b.outRequestNo
		}
	}
	d.Local, d.Channel = rawJSON(local), rawJSON(channel)
	d.CreatedAt = m.r.cfg.Now().UTC()
	m.rep.DifferenceCount++
	if d.Kind == MissingLocal {
		m.loggedML++
		if m.loggedML <= 100 {
			m.r.log.Error("reconciliation: "+m.title+" has money paygate does not know", "day", m.rep.Day, "kind", d.Kind,
				"channel_out_trade_no", d.ChannelNo, "trade_no", d.TradeNo, "out_request_no", d.OutRequestNo,
				"amount", b.amount.Yuan())
		} else if m.loggedML == 101 {
			m.r.log.Error("reconciliation: more missing_local differences; see the report", "day", m.rep.Day)
		}
	}
	diff := &difference{ReconDifference: d}
	if len(m.diffs) < m.r.cfg.MaxDifferences {
		m.diffs = append(m.diffs, diff)
	}
	return diff
}

// repair applies the forward repairs, in the order found (an order's
// payment before its refunds).
func (m *merger) repair() {
	if m.r.cfg.Repairer == nil {
		return
	}
	for _, d := range m.diffs {
		if d.repair == nil {
			continue
		}
		res, err := d.repair()
		now := m.r.cfg.Now().UTC()
		switch {
		case err != nil:
			d.Action = "repair failed (run again): " + err.Error()
			m.r.log.Warn("reconciliation repair failed", "day", m.rep.Day, "kind", d.Kind, "channel_out_trade_no", d.ChannelNo, "err", err)
		case res.applied:
			d.Repaired, d.Before, d.After, d.RepairedAt = true, res.before, res.after, now
			d.Action = fmt.Sprintf("repaired by %s's word (%s): %s → %s", m.title, res.about, res.before, res.after)
			m.rep.Repairs++
			m.r.log.Info("reconciliation repaired", "day", m.rep.Day, "kind", d.Kind, "out_trade_no", d.OutTradeNo,
				"before", res.before, "after", res.after)
		default:
			d.Before, d.After = res.before, res.after
			d.Action = "not repaired: " + res.about + "; an operator must look"
		}
	}
}

func (m *merger) repairPayment(orderID int64) (repairResult, error) {
	rep, err := m.r.cfg.Repairer.RepairPayment(m.ctx, orderID)
	return repairResult{applied: rep.Applied, before: rep.Before, after: rep.After, about: rep.Answer}, err
}

func (m *merger) repairRefund(orderID int64, outRequestNo string) (repairResult, error) {
	rep, err := m.r.cfg.Repairer.RepairRefund(m.ctx, orderID, outRequestNo)
	return repairResult{applied: rep.Applied, before: rep.Before, after: rep.After, about: rep.Answer}, err
}

// finish fills the report's differences and counts.
func (m *merger) finish() {
	m.rep.Differences = make([]*paygate.ReconDifference, 0, len(m.diffs))
	open := m.rep.DifferenceCount - len(m.diffs) // those not kept are open
	for _, d := range m.diffs {
		if d.Action == "" {
			d.Action = "an operator must look"
		}
		if !d.Repaired {
			open++
		}
		m.rep.Differences = append(m.rep.Differences, d.ReconDifference)
	}
	m.rep.OpenCount = open
}

// channelTitle is an order's channel as reports write it.
func channelTitle(ch paygate.Channel) string {
	switch ch.OrDefault() {
	case paygate.ChannelAlipay:
		return "Alipay"
	case paygate.ChannelWechat:
		return "WeChat Pay"
	}
	return string(ch)
}
