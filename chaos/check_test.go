package chaos

// Quiet, then the proof: every order against its channel's simulator truth
// (GET /sim/trades for Alipay, GET /sim/wechat/trades for WeChat Pay, both
// for an auto order; matched through the "chaos-<out_trade_no>" marker each
// order carries in its subject, which WeChat Pay keeps as the description:
// the gateway sends the channels its own channel number, not the
// merchant's out_trade_no), every refund against the payment at the
// order's channel, every event against the state changes and the receiver.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/wechatpaysim"
)

// simTrade is one entry of GET /sim/trades, or a WeChat Pay order of GET
// /sim/wechat/trades in the same form (see wxTrade).
type simTrade struct {
	Channel      string      `json:"-"` // alipay or wechat
	MchID        string      `json:"-"` // WeChat Pay's merchant
	WxState      string      `json:"-"` // WeChat Pay's trade_state, as it said it
	Processing   []string    `json:"-"` // WeChat Pay refunds not made yet (out_refund_no:amount)
	AppID        string      `json:"app_id"`
	OutTradeNo   string      `json:"out_trade_no"` // the gateway's channel number
	TradeNo      string      `json:"trade_no"`
	Kind         string      `json:"kind"`
	TradeStatus  string      `json:"trade_status"` // "" for a precreated code nobody scanned
	TotalAmount  string      `json:"total_amount"`
	RefundFee    string      `json:"refund_fee"`
	Subject      string      `json:"subject"`
	Voided       string      `json:"voided"`
	CloseReason  string      `json:"close_reason"`
	CancelAction string      `json:"cancel_action"`
	CodeExpires  *time.Time  `json:"code_expires_at"`
	ExpiresAt    *time.Time  `json:"expires_at"`
	PaidAt       *time.Time  `json:"paid_at"`
	ClosedAt     *time.Time  `json:"closed_at"`
	Refunds      []simRefund `json:"refunds"`
}

type simRefund struct {
	OutRequestNo string `json:"out_request_no"`
	Amount       string `json:"amount"`
	ByCancel     bool   `json:"by_cancel"`
}

// simNotice is one entry of GET /sim/notifications.
type simNotice struct {
	Dropped   bool `json:"dropped"`
	Duplicate bool `json:"duplicate"`
	Acked     bool `json:"acknowledged"`
	GaveUp    bool `json:"gave_up"`
}

// apiEvent is one event as GET /api/v1/events lists it. The shape is read
// loosely (the order's out_trade_no at the top, or inside data.order, or
// inside a payload), so the check depends only on the contract's names.
type apiEvent struct {
	ID         string
	Type       string
	OutTradeNo string
	Delivered  bool // delivered_at is set
	Dead       bool // dead_at is set: dead-lettered after the last retry
}

// fen parses a yuan string ("12.30", "0", "") into fen.
func fen(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 {
		return 0, fmt.Errorf("amount %q has more than two decimals", s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q: %v", s, err)
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q: %v", s, err)
	}
	return w*100 + f, nil
}

func mustFen(s string) int64 {
	v, err := fen(s)
	if err != nil {
		return -1
	}
	return v
}

// simGet decodes a GET of the simulator's /sim surface.
func (e *env) simGet(ctx context.Context, path string, out any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.simURL+path, nil)
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("GET %s: %s %s", path, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// setFaults replaces both simulators' faults (the keys are the same).
func (e *env) setFaults(ctx context.Context, faults map[string]any) error {
	body, _ := json.Marshal(faults)
	for _, path := range []string{"/sim/faults", "/sim/wechat/faults"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.simURL+path, strings.NewReader(string(body)))
		resp, err := e.hc.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("POST %s: %s %s", path, resp.Status, b)
		}
	}
	return nil
}

// listOrders pages GET /api/v1/orders (status "" for all).
func (d *driver) listOrders(ctx context.Context, status string) ([]client.Order, error) {
	var all []client.Order
	cursor := ""
	seen := map[string]bool{}
	for {
		q := url.Values{"limit": {"100"}}
		if status != "" {
			q.Set("status", status)
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page client.OrderList
		_, apiErr, err := d.call(ctx, "list orders", http.MethodGet, "/api/v1/orders", q, nil, "", &page)
		if err != nil {
			return nil, err
		}
		if apiErr != nil {
			return nil, apiErr
		}
		all = append(all, page.Orders...)
		if page.NextCursor == "" || seen[page.NextCursor] {
			return all, nil
		}
		seen[page.NextCursor] = true
		cursor = page.NextCursor
	}
}

// errNoEventsAPI is returned by listEvents when the API does not exist.
var errNoEventsAPI = errors.New("events API unavailable")

// listEvents pages GET /api/v1/events.
func (d *driver) listEvents(ctx context.Context) ([]apiEvent, error) {
	var all []apiEvent
	cursor := ""
	seen := map[string]bool{}
	for {
		q := url.Values{"limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page map[string]json.RawMessage
		_, apiErr, err := d.call(ctx, "list events", http.MethodGet, "/api/v1/events", q, nil, "", &page)
		if err != nil {
			return nil, err
		}
		if apiErr != nil {
			return nil, fmt.Errorf("%w: GET /api/v1/events answered %s", errNoEventsAPI, apiErr.Error())
		}
		var items []map[string]json.RawMessage
		found := false
		for _, k := range []string{"events", "data", "items"} {
			if raw, ok := page[k]; ok && json.Unmarshal(raw, &items) == nil {
				found = true
				break
			}
		}
		if !found {
			keys := make([]string, 0, len(page))
			for k := range page {
				keys = append(keys, k)
			}
			return nil, fmt.Errorf("%w: GET /api/v1/events answered an object without an events array (keys %v)", errNoEventsAPI, keys)
		}
		for _, it := range items {
			all = append(all, decodeEvent(it))
		}
		var next string
		_ = json.Unmarshal(page["next_cursor"], &next)
		if next == "" || seen[next] {
			return all, nil
		}
		seen[next] = true
		cursor = next
	}
}

func decodeEvent(it map[string]json.RawMessage) apiEvent {
	str := func(raw json.RawMessage) string {
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	}
	ev := apiEvent{ID: str(it["id"]), Type: str(it["type"]), Delivered: str(it["delivered_at"]) != "", Dead: str(it["dead_at"]) != ""}
	var order struct {
		OutTradeNo string `json:"out_trade_no"`
	}
	if json.Unmarshal(it["order"], &order) == nil && order.OutTradeNo != "" {
		ev.OutTradeNo = order.OutTradeNo
		return ev
	}
	for _, k := range []string{"out_trade_no", "order_out_trade_no"} {
		if s := str(it[k]); s != "" {
			ev.OutTradeNo = s
			return ev
		}
	}
	var body struct {
		Data struct {
			Order struct {
				OutTradeNo string `json:"out_trade_no"`
			} `json:"order"`
		} `json:"data"`
	}
	for _, k := range []string{"payload", "body", "event"} {
		raw := it[k]
		if s := str(raw); s != "" { // a payload kept as a string
			raw = json.RawMessage(s)
		}
		if json.Unmarshal(raw, &body) == nil && body.Data.Order.OutTradeNo != "" {
			ev.OutTradeNo = body.Data.Order.OutTradeNo
			return ev
		}
	}
	var data struct {
		Order struct {
			OutTradeNo string `json:"out_trade_no"`
		} `json:"order"`
	}
	if json.Unmarshal(it["data"], &data) == nil {
		ev.OutTradeNo = data.Order.OutTradeNo
	}
	return ev
}

// quiesce turns both simulators' faults off and waits, at most bound, until nothing is
// left to happen: no order pending, no refund pending, every event
// acknowledged by the receiver. The run itself was under faults; reaching
// quiet is done without them (the compressed notification schedule, not a
// fault, stays), so that the wait is bounded by the gateway's own timers
// rather than by luck. It returns how long it took and, when the bound
// passed first, what was still not quiet.
func (e *env) quiesce(ctx context.Context, d *driver, bound time.Duration, mark func(string, ...any)) (time.Duration, string) {
	start := time.Now()
	if err := e.setFaults(ctx, map[string]any{"notify_schedule": notifySchedule}); err != nil {
		return 0, "could not turn the faults off: " + err.Error()
	}
	refundOrders := []string{}
	for _, r := range d.recs {
		if len(r.Refunds) > 0 {
			refundOrders = append(refundOrders, r.No)
		}
	}
	why := ""
	calm := 0
	lastMark := time.Now()
	for time.Since(start) < bound {
		why = e.notQuiet(ctx, d, refundOrders)
		if why != "" && time.Since(lastMark) >= 30*time.Second {
			mark("still not quiet: %s", why)
			lastMark = time.Now()
		}
		if why == "" {
			calm++
			if calm >= 2 {
				return time.Since(start), ""
			}
		} else {
			calm = 0
		}
		time.Sleep(time.Second)
	}
	return time.Since(start), why
}

// notQuiet says what is still moving, or "".
func (e *env) notQuiet(ctx context.Context, d *driver, refundOrders []string) string {
	pending, err := d.listOrders(ctx, "pending")
	if err != nil {
		return "listing pending orders: " + err.Error()
	}
	if len(pending) > 0 {
		return fmt.Sprintf("%d orders pending (e.g. %s, expires %v)", len(pending), pending[0].OutTradeNo, pending[0].ExpiresAt)
	}
	for _, no := range refundOrders {
		var out struct {
			Refunds []client.Refund `json:"refunds"`
		}
		_, apiErr, err := d.call(ctx, "list refunds", http.MethodGet, "/api/v1/orders/"+no+"/refunds", nil, nil, "", &out)
		if err != nil || apiErr != nil {
			return fmt.Sprintf("listing refunds of %s: %v %v", no, err, apiErr)
		}
		for _, r := range out.Refunds {
			if r.Status == "pending" {
				return fmt.Sprintf("refund %s of %s pending", r.OutRequestNo, no)
			}
		}
	}
	rx, _, _, _, _, lastAt := e.rx.snapshot()
	events, err := d.listEvents(ctx)
	if errors.Is(err, errNoEventsAPI) {
		if since := time.Since(lastAt); since < 5*time.Second {
			return fmt.Sprintf("no events API; the receiver got a delivery %s ago", since.Round(time.Millisecond))
		}
		return ""
	}
	if err != nil {
		return "listing events: " + err.Error()
	}
	unacked := 0
	example := ""
	for _, ev := range events {
		if !ev.Dead && (rx[ev.ID].Acked == 0 || !ev.Delivered) {
			unacked++
			example = fmt.Sprintf("%s %s of %s, acked %d times, delivered_at set: %v", ev.ID, ev.Type, ev.OutTradeNo, rx[ev.ID].Acked, ev.Delivered)
		}
	}
	if unacked > 0 {
		return fmt.Sprintf("%d of %d events not yet delivered (e.g. %s)", unacked, len(events), example)
	}
	return ""
}

// mismatch is one failed check.
type mismatch struct {
	Kind    string   // global, state (status or money), stuck, events, harness
	Order   string   // out_trade_no, or "" for a global one
	Msg     string   // what is wrong
	Detail  string   // what each side holds
	Needles []string // strings to find the order in the process logs
}

// outcome counts what the run produced.
type outcome struct {
	qr, barcode                                 int
	paid, partial, refunded, closed, pending    int
	cancelRefunds, latePayments, refundsOK      int
	events, eventsAPI                           bool
	eventCount, deliveries, rxFailed, rxInvalid int
	simPaid                                     int
	// byChannel counts the orders by the channel they asked for (alipay,
	// wechat, auto); notify counts each simulator's notifications.
	byChannel map[string]*chanCount
	notify    map[string]*notifyCount
}

// chanCount is one channel's share of the outcome.
type chanCount struct {
	orders, qr, barcode, buyerPaid, bothPaid int
	paid, refunded, closed, refundsOK        int
	late, cancelRefunds                      int
	paidOnAlipay, paidOnWechat, oneOffered   int // auto orders: the side a payment decided; taken on one side alone
}

func (c *chanCount) String() string {
	s := fmt.Sprintf("orders=%d qr=%d barcode=%d buyer_paid=%d paid=%d refunded=%d closed=%d refunds_succeeded=%d cancel_refunds=%d late_payments=%d",
		c.orders, c.qr, c.barcode, c.buyerPaid, c.paid, c.refunded, c.closed, c.refundsOK, c.cancelRefunds, c.late)
	if c.paidOnAlipay+c.paidOnWechat+c.oneOffered+c.bothPaid > 0 {
		s += fmt.Sprintf(" decided_on_alipay=%d decided_on_wechat=%d buyer_paid_both_sides=%d one_side_offered=%d",
			c.paidOnAlipay, c.paidOnWechat, c.bothPaid, c.oneOffered)
	}
	return s
}

// notifyCount is what one simulator's notifications met.
type notifyCount struct{ dropped, duplicated, gaveUp int }

// channel is oc's count of channel ch, made when first asked for.
func (oc *outcome) channel(ch string) *chanCount {
	if oc.byChannel == nil {
		oc.byChannel = map[string]*chanCount{}
	}
	if oc.byChannel[ch] == nil {
		oc.byChannel[ch] = &chanCount{}
	}
	return oc.byChannel[ch]
}

// channels is the per-channel part of the summary line.
func (oc *outcome) channels() string {
	var parts []string
	for _, ch := range []string{"alipay", "wechat", "auto"} {
		parts = append(parts, ch+"{"+oc.channel(ch).String()+"}")
	}
	return strings.Join(parts, " ")
}

// truth is everything gathered for the checks.
type truth struct {
	orders   map[string]client.Order
	refunds  map[string][]client.Refund
	trades   map[string][]simTrade // by order out_trade_no (from the marker)
	stray    []simTrade            // our app's trades without a known marker
	events   []apiEvent
	eventErr error
	rx       map[string]rxEvent
	notices  map[string][]simNotice // by channel
	// listOmitted says how the order list failed, when it left orders out.
	listOmitted string
}

// gather reads the gateway, the simulator and the receiver.
func (e *env) gather(ctx context.Context, d *driver) (*truth, error) {
	tr := &truth{orders: map[string]client.Order{}, refunds: map[string][]client.Refund{}, trades: map[string][]simTrade{}}
	orders, err := d.listOrders(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("listing orders: %w", err)
	}
	for _, o := range orders {
		if _, dup := tr.orders[o.OutTradeNo]; dup {
			return nil, fmt.Errorf("order %s listed twice", o.OutTradeNo)
		}
		tr.orders[o.OutTradeNo] = o
	}
	// An order the list left out is fetched on its own, so that a paging
	// fault shows as what it is, not as lost orders.
	var omitted []string
	for _, r := range d.recs {
		if _, ok := tr.orders[r.No]; ok {
			continue
		}
		var o client.Order
		_, apiErr, err := d.call(ctx, "get "+r.No, http.MethodGet, "/api/v1/orders/"+r.No, nil, nil, "", &o)
		if err != nil {
			return nil, err
		}
		if apiErr == nil {
			tr.orders[r.No] = o
			omitted = append(omitted, r.No)
		}
	}
	if len(omitted) > 0 {
		tr.listOmitted = fmt.Sprintf("GET /api/v1/orders (paged by next_cursor, limit=100) listed %d orders but left out %d that GET /api/v1/orders/{out_trade_no} finds (e.g. %s)",
			len(orders), len(omitted), strings.Join(omitted[:min(5, len(omitted))], ", "))
	}
	var aliTrades []simTrade
	if err := e.simGet(ctx, "/sim/trades", &aliTrades); err != nil {
		return nil, err
	}
	var wxViews []wechatpaysim.TradeView
	if err := e.simGet(ctx, "/sim/wechat/trades", &wxViews); err != nil {
		return nil, err
	}
	var trades []simTrade
	for _, t := range aliTrades {
		if t.AppID == appID {
			t.Channel = "alipay"
			trades = append(trades, t)
		}
	}
	for _, v := range wxViews {
		if v.MchID == wxMchID {
			trades = append(trades, wxTrade(v))
		}
	}
	known := map[string]bool{}
	for _, r := range d.recs {
		known[r.No] = true
	}
	for _, t := range trades {
		no, ok := strings.CutPrefix(t.Subject, "chaos-")
		if !ok || !known[no] {
			tr.stray = append(tr.stray, t)
			continue
		}
		tr.trades[no] = append(tr.trades[no], t)
	}
	tr.notices = map[string][]simNotice{}
	for ch, path := range map[string]string{"alipay": "/sim/notifications", "wechat": "/sim/wechat/notifications"} {
		var ns []simNotice
		if err := e.simGet(ctx, path, &ns); err != nil {
			return nil, err
		}
		tr.notices[ch] = ns
	}
	// Refunds of every order that may have any.
	var need []string
	for no, o := range tr.orders {
		refundedThere := false
		for _, t := range tr.trades[no] {
			refundedThere = refundedThere || len(t.Refunds) > 0
		}
		if o.Status != "closed" || refundedThere {
			need = append(need, no)
		}
	}
	for _, r := range d.recs {
		if len(r.Refunds) > 0 {
			need = append(need, r.No)
		}
	}
	sort.Strings(need)
	need = dedupe(need)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	work := make(chan string)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for no := range work {
				var out struct {
					Refunds []client.Refund `json:"refunds"`
				}
				_, apiErr, err := d.call(ctx, "list refunds", http.MethodGet, "/api/v1/orders/"+no+"/refunds", nil, nil, "", &out)
				mu.Lock()
				if err == nil && apiErr != nil && apiErr.StatusCode != http.StatusNotFound {
					err = apiErr
				}
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("refunds of %s: %w", no, err)
				}
				tr.refunds[no] = out.Refunds
				mu.Unlock()
			}
		}()
	}
	for _, no := range need {
		work <- no
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	tr.events, tr.eventErr = d.listEvents(ctx)
	if tr.eventErr != nil && !errors.Is(tr.eventErr, errNoEventsAPI) {
		return nil, tr.eventErr
	}
	tr.rx, _, _, _, _, _ = e.rx.snapshot()
	return tr, nil
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// check compares everything; see the table in checkOrder.
func check(d *driver, tr *truth, now time.Time) ([]mismatch, outcome) {
	var ms []mismatch
	var oc outcome
	add := func(m mismatch) { ms = append(ms, m) }

	// Events by order and type, from the events API when it exists, else
	// from what the receiver got (every event reaches it at least once).
	byOrder := map[string]map[string][]string{}
	oc.eventsAPI = tr.eventErr == nil
	if oc.eventsAPI {
		seen := map[string]bool{}
		for _, ev := range tr.events {
			if seen[ev.ID] {
				add(mismatch{Kind: "events", Order: ev.OutTradeNo, Msg: "event " + ev.ID + " listed twice by GET /api/v1/events"})
			}
			seen[ev.ID] = true
			if byOrder[ev.OutTradeNo] == nil {
				byOrder[ev.OutTradeNo] = map[string][]string{}
			}
			byOrder[ev.OutTradeNo][ev.Type] = append(byOrder[ev.OutTradeNo][ev.Type], ev.ID)
			if !ev.Delivered && !ev.Dead {
				add(mismatch{Kind: "events", Order: ev.OutTradeNo, Msg: fmt.Sprintf("event %s (%s) is not delivered according to GET /api/v1/events", ev.ID, ev.Type)})
			}
			if ev.Dead {
				add(mismatch{Kind: "events", Order: ev.OutTradeNo, Msg: fmt.Sprintf("event %s (%s) was dead-lettered", ev.ID, ev.Type)})
			}
			rx, ok := tr.rx[ev.ID]
			switch {
			case !ok:
				add(mismatch{Kind: "events", Order: ev.OutTradeNo, Msg: fmt.Sprintf("event %s (%s) never reached the receiver with a valid signature", ev.ID, ev.Type)})
			case rx.Acked == 0:
				add(mismatch{Kind: "events", Order: ev.OutTradeNo, Msg: fmt.Sprintf("event %s (%s) reached the receiver %d times but was never acknowledged (the receiver failed each on purpose)", ev.ID, ev.Type, rx.Deliveries)})
			case rx.Type != ev.Type || rx.OutTradeNo != ev.OutTradeNo:
				add(mismatch{Kind: "events", Order: ev.OutTradeNo, Msg: fmt.Sprintf("event %s is %s of %s in the API but %s of %s as delivered", ev.ID, ev.Type, ev.OutTradeNo, rx.Type, rx.OutTradeNo)})
			}
		}
		for id, rx := range tr.rx {
			if !seen[id] {
				add(mismatch{Kind: "events", Order: rx.OutTradeNo, Msg: fmt.Sprintf("the receiver got event %s (%s) that GET /api/v1/events does not list", id, rx.Type)})
			}
		}
	} else {
		add(mismatch{Msg: "events API: " + tr.eventErr.Error() + "; event counts below come from the receiver alone"})
		for id, rx := range tr.rx {
			if byOrder[rx.OutTradeNo] == nil {
				byOrder[rx.OutTradeNo] = map[string][]string{}
			}
			byOrder[rx.OutTradeNo][rx.Type] = append(byOrder[rx.OutTradeNo][rx.Type], id)
		}
	}
	oc.eventCount = len(tr.rx)
	if oc.eventsAPI {
		oc.eventCount = len(tr.events)
	}

	if tr.listOmitted != "" {
		add(mismatch{Msg: tr.listOmitted})
	}
	known := map[string]bool{}
	for _, r := range d.recs {
		known[r.No] = true
		cc := oc.channel(r.Channel)
		cc.orders++
		if r.Mode == "qr" {
			oc.qr++
			cc.qr++
		} else {
			oc.barcode++
			cc.barcode++
		}
		if r.SimPaid {
			oc.simPaid++
			cc.buyerPaid++
		}
		if len(r.SimPaidOn) == 2 {
			cc.bothPaid++
		}
		for _, m := range checkOrder(r, tr, byOrder[r.No], now, &oc) {
			m.Order = r.No
			m.Needles = append(m.Needles, r.No)
			for _, t := range tr.trades[r.No] {
				m.Needles = append(m.Needles, t.OutTradeNo)
			}
			m.Detail = describe(r, tr)
			add(m)
		}
	}
	for no := range tr.orders {
		if !known[no] {
			add(mismatch{Order: no, Msg: "the gateway lists an order the driver never created"})
		}
	}
	for _, t := range tr.stray {
		add(mismatch{Msg: fmt.Sprintf("%s trade %s (subject %q, %s) belongs to no order of this run", t.Channel, t.OutTradeNo, t.Subject, tradeSummary(&t))})
	}
	for no := range byOrder {
		if !known[no] {
			add(mismatch{Order: no, Msg: fmt.Sprintf("events for an unknown order %q: %v", no, byOrder[no])})
		}
	}
	for _, g := range d.gaveUp {
		add(mismatch{Msg: "the driver gave up: " + g})
	}
	oc.notify = map[string]*notifyCount{}
	for _, ch := range []string{"alipay", "wechat"} {
		nc := &notifyCount{}
		for _, n := range tr.notices[ch] {
			switch {
			case n.Dropped:
				nc.dropped++
			case n.Duplicate:
				nc.duplicated++
			}
			if n.GaveUp {
				nc.gaveUp++
			}
		}
		oc.notify[ch] = nc
	}
	return ms, oc
}

// checkOrder checks one order against its channel's truth. An order of one
// channel (asked for, or an auto barcode, which its code's prefix routes:
// WeChat Pay's 10 to 15, Alipay's otherwise) is checked against its trade
// there by checkSide's table, and must have no trade at the other channel.
// An auto QR order is checked against both simulators:
//
//	gateway                          the side it names                    the other side
//	---------------------------------------------------------------------------------------------------------
//	channel alipay|wechat (a         checkSide's table, as an order of    no trade; a code voided, expired or
//	  payment decided it, or only      that channel alone                   never offered (only one code in
//	  that side was offered)                                                qr_codes); closed unpaid; or paid
//	                                                                        and refunded in full by the
//	                                                                        late-payment policy (late_…), with
//	                                                                        an order.late_payment event
//	channel auto (undecided), closed each offered side by the table as a  -
//	                                   closed order (a late payment on
//	                                   either counts, with its event);
//	                                   a side not offered as "the other"
//
// So exactly one side holds the money the order reports paid, and money
// that reached the other side went back to the buyer.
func checkOrder(r *orderRec, tr *truth, events map[string][]string, now time.Time, oc *outcome) []mismatch {
	var ms []mismatch
	bad := func(format string, args ...any) {
		ms = append(ms, mismatch{Kind: kindOf(format), Msg: fmt.Sprintf(format, args...)})
	}
	o, ok := tr.orders[r.No]
	byCh := map[string]*simTrade{}
	for i := range tr.trades[r.No] {
		t := &tr.trades[r.No][i]
		if prev := byCh[t.Channel]; prev != nil {
			bad("two %s trades carry this order's marker (%s, %s): one order, one channel number", t.Channel, prev.OutTradeNo, t.OutTradeNo)
			continue
		}
		byCh[t.Channel] = t
		if len(t.Processing) > 0 {
			bad("%s refunds still processing at quiet: %v", t.Channel, t.Processing)
		}
	}
	for _, ch := range []string{"alipay", "wechat"} {
		if t := byCh[ch]; r.SimPaidOn[ch] && (t == nil || t.PaidAt == nil) {
			bad("the buyer paid %s's code (/sim/pay 200) but %s shows no payment (harness: marker matching)", ch, ch)
		}
	}
	if !ok {
		switch {
		case r.Answered:
			bad("the create was answered (%s) but the gateway does not list the order", r.CreateResp)
		case len(byCh) > 0:
			for _, t := range byCh {
				bad("the create got no answer, the gateway has no order, but %s has a trade (%s)", t.Channel, tradeSummary(t))
			}
		}
		return ms
	}
	if total := mustFen(o.TotalAmount); total != r.Amount {
		bad("total_amount %s, the driver asked for %s", o.TotalAmount, yuan(r.Amount))
	}
	for _, t := range byCh {
		if mustFen(t.TotalAmount) != r.Amount {
			bad("%s's trade total is %s, the order's %s", t.Channel, t.TotalAmount, yuan(r.Amount))
		}
	}
	refunded := mustFen(o.RefundedAmount)

	// Refunds as the gateway holds them.
	g := gatewayRefunds{}
	cc := oc.channel(r.Channel)
	for _, rf := range tr.refunds[r.No] {
		switch rf.Status {
		case "succeeded":
			a := mustFen(rf.Amount)
			g.sumOK += a
			if strings.HasPrefix(rf.OutRequestNo, "cancel_") {
				g.cancelRefund += a
			} else {
				if g.okNos == nil {
					g.okNos = map[string]int64{}
				}
				g.okNos[rf.OutRequestNo] = a
			}
			oc.refundsOK++
			cc.refundsOK++
			g.succeeded++
		case "pending":
			bad("refund %s of %s still pending at quiet", rf.OutRequestNo, rf.Amount)
		case "failed":
		default:
			bad("refund %s has status %q", rf.OutRequestNo, rf.Status)
		}
	}
	if g.sumOK != refunded {
		bad("succeeded refunds sum to %s but refunded_amount is %s", yuan(g.sumOK), o.RefundedAmount)
	}
	if refunded > r.Amount {
		bad("refunded_amount %s exceeds the total %s", o.RefundedAmount, yuan(r.Amount))
	}
	for _, rr := range r.Refunds {
		if rr.Status == "succeeded" {
			if _, ok := g.okNos[rr.OutRequestNo]; !ok {
				bad("refund %s was answered succeeded (%s) but is not a succeeded refund now", rr.OutRequestNo, rr.Answer)
			}
		}
		if rr.Err != "" {
			bad("refund %s got no answer: %s", rr.OutRequestNo, rr.Err)
		}
	}

	// Which side holds the order, and which must hold nothing.
	st := o.Status
	if st == "pending" {
		exp := "?"
		if o.ExpiresAt != nil {
			exp = fmt.Sprintf("%s (%s ago)", o.ExpiresAt.Format(time.RFC3339), now.Sub(*o.ExpiresAt).Round(time.Second))
		}
		var sides []string
		for _, ch := range []string{"alipay", "wechat"} {
			if t := byCh[ch]; t != nil {
				sides = append(sides, tradeSummary(t))
			}
		}
		bad("stuck pending at quiet; expires_at %s; channel %s", exp, firstNonEmpty(strings.Join(sides, "; "), "no trade"))
	}
	side := sideCheck{r: r, o: o, g: g, refunds: tr.refunds[r.No], now: now, bad: bad}
	want, late, byCancel := "", 0, false
	autoQR := r.Channel == "auto" && r.Mode == "qr"
	switch {
	case autoQR && (o.Channel == "alipay" || o.Channel == "wechat"):
		other := otherChannel(o.Channel)
		var l bool
		want, l, byCancel = side.check(byCh[o.Channel], st)
		late += b2i(l)
		late += b2i(side.other(byCh[other], o.Channel, o.QRCodes[other] != ""))
		switch {
		case len(o.QRCodes) < 2:
			cc.oneOffered++
		case st == "paid" || st == "refunded":
			if o.Channel == "alipay" {
				cc.paidOnAlipay++
			} else {
				cc.paidOnWechat++
			}
		}
	case autoQR && o.Channel == "auto":
		// Undecided: every offered side closed, each maybe paid late.
		want = "closed"
		for _, ch := range []string{"alipay", "wechat"} {
			if o.QRCodes[ch] == "" {
				late += b2i(side.other(byCh[ch], "", false))
				continue
			}
			w, l, _ := side.check(byCh[ch], "closed")
			late += b2i(l)
			if w != "" && w != "closed" {
				bad("an undecided auto order is %s, but %s says %s (%s)", st, ch, w, tradeSummary(byCh[ch]))
			}
		}
	case autoQR:
		bad("an auto QR order names channel %q", o.Channel)
	default:
		ch := r.Channel
		if ch == "auto" { // a barcode: its code decides
			ch = "alipay"
			if paygate.IsWechatAuthCode(r.AuthCode) {
				ch = "wechat"
			}
		}
		if o.Channel != ch {
			bad("the order is taken on %s, but it asked for %s (auth code %q)", o.Channel, r.Channel, r.AuthCode)
		}
		var l bool
		want, l, byCancel = side.check(byCh[ch], st)
		late += b2i(l)
		if t := byCh[otherChannel(ch)]; t != nil {
			bad("an order of %s has a trade at %s: %s", ch, t.Channel, tradeSummary(t))
		}
	}
	if want != "" && st != want && st != "pending" {
		bad("status %s, the channels say %s", st, want)
	}
	if byCancel {
		oc.cancelRefunds++
		cc.cancelRefunds++
	}
	oc.latePayments += late
	cc.late += late

	switch st {
	case "paid":
		oc.paid++
		cc.paid++
		if refunded > 0 {
			oc.partial++
		}
	case "refunded":
		oc.refunded++
		cc.refunded++
	case "closed":
		oc.closed++
		cc.closed++
	case "pending":
		oc.pending++
	}

	// Exactly one event per state change.
	wantEvents := map[string]int{}
	switch st {
	case "paid", "refunded":
		wantEvents["order.paid"] = 1
	case "closed":
		wantEvents["order.closed"] = 1
	}
	wantEvents["refund.succeeded"] = g.succeeded
	if late > 0 {
		wantEvents["order.late_payment"] = late
	}
	types := map[string]bool{}
	for typ := range events {
		types[typ] = true
	}
	for typ := range wantEvents {
		types[typ] = true
	}
	for typ := range types {
		if got := len(events[typ]); got != wantEvents[typ] {
			bad("%d %s events (want %d): %v", got, typ, wantEvents[typ], events[typ])
		}
	}
	return ms
}

// gatewayRefunds is what the gateway holds of an order's refunds.
type gatewayRefunds struct {
	sumOK        int64            // succeeded, in fen
	okNos        map[string]int64 // succeeded ones but a cancel's, by out_request_no
	cancelRefund int64            // a cancel's (cancel_…), which the channel made
	succeeded    int
}

// sideCheck checks the trades of one order.
type sideCheck struct {
	r       *orderRec
	o       client.Order
	g       gatewayRefunds
	refunds []client.Refund
	now     time.Time
	bad     func(format string, args ...any)
}

// check maps a trade (nil: none) to the status the order must have, by the
// table below, for an order whose status is st; late says the trade is a
// late payment refunded by policy, byCancel a payment a cancel refunded.
//
//	channel (as simTrade says it, wxTrade maps WeChat Pay's) gateway status refunded_amount  events
//	--------------------------------------------------------------------------------------------------------------
//	no trade (the pay/precreate never took effect,     closed           0                order.closed
//	  or a barcode pay refused before a trade existed,
//	  or a cancel of an out_trade_no nobody scanned)
//	code never scanned ("" status), voided by close/   closed           0                order.closed
//	  cancel or past its code expiry
//	code never scanned, still payable                  MISMATCH (closed here, payable there; or stuck)
//	WAIT_BUYER_PAY at quiet                            MISMATCH (an open trade nobody will decide)
//	TRADE_SUCCESS / TRADE_FINISHED (refund_fee < total) paid            == refund_fee    order.paid, one refund.succeeded per refund
//	TRADE_CLOSED, never paid (timeout, close, cancel)  closed           0                order.closed
//	TRADE_CLOSED after payment, cancel_action refund   closed           0                order.closed (the payment was never
//	  (a barcode payment cancelled undecided)                                             reported: no order.paid)
//	                                                   or refunded      == total         order.paid + refund.succeeded (when a
//	                                                                                      notification reported it paid first)
//	TRADE_CLOSED after payment, refunds == total       refunded         == total         order.paid, one refund.succeeded each
//	  (close_reason refund)
//	TRADE_CLOSED after payment, refunded in full by    closed           0                order.closed + order.late_payment
//	  the gateway's late-payment policy (late_…)                                          (paid after the order closed: counted)
//	anything else                                      MISMATCH
//
// Besides the table, for every order: the amounts agree, sum of succeeded
// refunds == refunded_amount == the channel's refund_fee (less a cancel's
// refund) <= total, the succeeded refunds are exactly the channel's by
// out_request_no, no refund is pending, every refund the driver was told
// succeeded did, and nothing is pending (past its expiry or not: at quiet
// every order has expired).
func (c sideCheck) check(t *simTrade, st string) (want string, late, byCancel bool) {
	r, o, bad := c.r, c.o, c.bad
	refunded := mustFen(o.RefundedAmount)
	// The channel's refunds.
	chNos := map[string]int64{}
	var chByCancel, chLate int64
	if t != nil {
		fee := mustFen(t.RefundFee)
		var sum int64
		for _, rf := range t.Refunds {
			a := mustFen(rf.Amount)
			sum += a
			switch {
			case rf.ByCancel:
				chByCancel += a
			case strings.HasPrefix(rf.OutRequestNo, "late_"):
				chLate += a
			default:
				chNos[rf.OutRequestNo] = a
			}
		}
		if sum != fee {
			bad("%s's refunds sum to %s but its refund_fee is %s", t.Channel, yuan(sum), t.RefundFee)
		}
		if fee > r.Amount {
			bad("%s refunded %s of a %s payment", t.Channel, t.RefundFee, yuan(r.Amount))
		}
	}
	sameRefunds := func() {
		for no, a := range chNos {
			if c.g.okNos[no] != a {
				bad("%s refunded %s as %s; the gateway has it as %s", t.Channel, no, yuan(a), refundState(c.refunds, no))
			}
		}
		for no, a := range c.g.okNos {
			if chNos[no] != a {
				bad("the gateway's refund %s (%s) succeeded but %s has %s", no, yuan(a), t.Channel, yuan(chNos[no]))
			}
		}
	}

	switch {
	case st == "pending":
		// Reported by checkOrder.
	case t == nil:
		want = "closed"
	case t.TradeStatus == "":
		want = "closed"
		payable := t.Voided == "" && (t.CodeExpires == nil || c.now.Before(*t.CodeExpires))
		if st == "closed" && payable {
			bad("closed here, but %s's code was neither closed nor cancelled and is payable until %v", t.Channel, t.CodeExpires)
		}
	case t.TradeStatus == "WAIT_BUYER_PAY":
		bad("the %s trade is still WAIT_BUYER_PAY (expires %v) while the order is %s: nobody will decide it", t.Channel, t.ExpiresAt, st)
	case t.TradeStatus == "TRADE_SUCCESS" || t.TradeStatus == "TRADE_FINISHED":
		want = "paid"
		if refunded != mustFen(t.RefundFee) {
			bad("refunded_amount %s but %s's refund_fee is %s", o.RefundedAmount, t.Channel, t.RefundFee)
		}
		sameRefunds()
	case t.TradeStatus == "TRADE_CLOSED" && t.PaidAt == nil:
		want = "closed"
	case t.TradeStatus == "TRADE_CLOSED" && (t.CancelAction == "refund" || chByCancel > 0):
		byCancel = true
		if st == "refunded" {
			want = "refunded"
			if refunded != r.Amount || c.g.cancelRefund != chByCancel {
				bad("cancelled with a refund of %s at %s; the gateway refunded %s (by cancel %s)", yuan(chByCancel), t.Channel, o.RefundedAmount, yuan(c.g.cancelRefund))
			}
		} else {
			want = "closed"
			if refunded != 0 {
				bad("closed by a refunding cancel, yet refunded_amount is %s", o.RefundedAmount)
			}
		}
		sameRefunds()
	case t.TradeStatus == "TRADE_CLOSED" && chLate > 0 && chLate == r.Amount && len(chNos) == 0 && st == "closed":
		want, late = "closed", true
	case t.TradeStatus == "TRADE_CLOSED" && t.CloseReason == "refund":
		want = "refunded"
		if refunded != r.Amount || mustFen(t.RefundFee) != r.Amount {
			bad("%s closed the trade refunded in full (%s) but refunded_amount is %s", t.Channel, t.RefundFee, o.RefundedAmount)
		}
		sameRefunds()
	default:
		bad("unexpected %s state: %s", t.Channel, tradeSummary(t))
	}
	if want != "" && st != want {
		bad("status %s, %s says %s (%s)", st, channelOr(t), want, tradeSummary(t))
		want = "" // said once
	}
	if t == nil && st != "closed" && st != "pending" {
		bad("status %s but the channel has no trade for it", st)
	}
	return want, late, byCancel
}

// other checks a side of an auto order that must hold no money: the
// channel a payment on decidedOn did not decide (decidedOn "" for an
// undecided order), its code offered to the buyer or not. It may have no
// trade, a code that can no longer be paid (or that nobody was given), a
// trade closed unpaid, or a payment refunded in full by the late-payment
// policy: then it reports true (a late payment, with its event).
func (c sideCheck) other(t *simTrade, decidedOn string, offered bool) (late bool) {
	bad := c.bad
	why := "an undecided order's side never offered"
	if decidedOn != "" {
		why = "the order was decided on " + decidedOn
	}
	if t == nil {
		return false
	}
	var chLate, chOther int64
	for _, rf := range t.Refunds {
		if strings.HasPrefix(rf.OutRequestNo, "late_") {
			chLate += mustFen(rf.Amount)
		} else {
			chOther += mustFen(rf.Amount)
		}
	}
	switch {
	case t.TradeStatus == "":
		if payable := t.Voided == "" && (t.CodeExpires == nil || c.now.Before(*t.CodeExpires)); payable && offered {
			bad("%s's code is still payable (until %v), though %s", t.Channel, t.CodeExpires, why)
		}
	case t.TradeStatus == "WAIT_BUYER_PAY":
		bad("the %s trade is still WAIT_BUYER_PAY, though %s: nobody will decide it", t.Channel, why)
	case t.PaidAt == nil && t.TradeStatus == "TRADE_CLOSED":
	case t.PaidAt != nil && chLate == c.r.Amount && chOther == 0 && mustFen(t.RefundFee) == c.r.Amount:
		return true
	case t.PaidAt != nil:
		bad("%s holds money (%s), though %s: not refunded in full as a late payment", t.Channel, tradeSummary(t), why)
	default:
		bad("unexpected %s state, though %s: %s", t.Channel, why, tradeSummary(t))
	}
	return false
}

func otherChannel(ch string) string {
	if ch == "wechat" {
		return "alipay"
	}
	return "wechat"
}

func channelOr(t *simTrade) string {
	if t == nil {
		return "the channel"
	}
	return t.Channel
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func refundState(refunds []client.Refund, no string) string {
	for _, rf := range refunds {
		if rf.OutRequestNo == no {
			return rf.Status + " " + rf.Amount
		}
	}
	return "nothing"
}

func tradeSummary(t *simTrade) string {
	if t == nil {
		return "no trade"
	}
	status := t.TradeStatus
	if status == "" {
		status = "unscanned code"
	}
	s := fmt.Sprintf("%s %s %s total=%s refund_fee=%s", firstNonEmpty(t.Channel, "alipay"), t.OutTradeNo, status, t.TotalAmount, t.RefundFee)
	if t.WxState != "" {
		s += " trade_state=" + t.WxState
	}
	if t.CodeExpires != nil && t.TradeStatus == "" {
		s += " payable_until=" + t.CodeExpires.Format(time.RFC3339)
	}
	if t.Voided != "" {
		s += " voided=" + t.Voided
	}
	if t.CloseReason != "" {
		s += " close_reason=" + t.CloseReason
	}
	if t.CancelAction != "" {
		s += " cancel_action=" + t.CancelAction
	}
	if t.PaidAt != nil {
		s += " paid_at=" + t.PaidAt.Format(time.RFC3339Nano)
	}
	if len(t.Refunds) > 0 {
		var parts []string
		for _, r := range t.Refunds {
			p := r.OutRequestNo + ":" + r.Amount
			if r.ByCancel {
				p += "(cancel)"
			}
			parts = append(parts, p)
		}
		s += " refunds=[" + strings.Join(parts, " ") + "]"
	}
	if len(t.Processing) > 0 {
		s += " processing=" + strings.Join(t.Processing, ",")
	}
	return s
}

// describe is everything known about one order, for a mismatch report.
func describe(r *orderRec, tr *truth) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "    driver: mode=%s channel=%s plan=%s side=%s amount=%s auth_code=%s create=%q qr_codes=%v sim_pay=%q close=%q seen=%s\n",
		r.Mode, r.Channel, r.Plan, r.Side, yuan(r.Amount), r.AuthCode, firstNonEmpty(r.CreateResp, r.CreateErr), r.QRCodes, r.SimPay, r.Close, r.SeenStatus)
	for _, rr := range r.Refunds {
		fmt.Fprintf(&b, "    driver refund: %s %s -> %s%s\n", rr.OutRequestNo, yuan(rr.Amount), rr.Answer, rr.Err)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "    driver note: %s\n", n)
	}
	if o, ok := tr.orders[r.No]; ok {
		fmt.Fprintf(&b, "    gateway: status=%s channel=%s total=%s refunded=%s trade_no=%s paid_at=%v expires_at=%v qr_codes=%v\n",
			o.Status, o.Channel, o.TotalAmount, o.RefundedAmount, o.TradeNo, fmtTime(o.PaidAt), fmtTime(o.ExpiresAt), o.QRCodes)
	} else {
		fmt.Fprintf(&b, "    gateway: no such order\n")
	}
	for _, rf := range tr.refunds[r.No] {
		fmt.Fprintf(&b, "    gateway refund: %s %s %s\n", rf.OutRequestNo, rf.Amount, rf.Status)
	}
	for _, t := range tr.trades[r.No] {
		fmt.Fprintf(&b, "    %s: %s\n", t.Channel, tradeSummary(&t))
	}
	if len(tr.trades[r.No]) == 0 {
		fmt.Fprintf(&b, "    channel: no trade\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// kindOf classifies an order's mismatch by its message.
func kindOf(format string) string {
	switch {
	case strings.Contains(format, "events (want"):
		return "events"
	case strings.Contains(format, "pending at quiet"), strings.Contains(format, "WAIT_BUYER_PAY"), strings.Contains(format, "no answer"):
		return "stuck"
	case strings.Contains(format, "harness"):
		return "harness"
	}
	return "state"
}

// kindRank orders the report: what explains the rest first, then money and
// status, then what is stuck, then events.
var kindRank = map[string]int{"global": 0, "state": 1, "stuck": 2, "events": 3, "harness": 4}

// sortMismatches orders ms by kind, stably, and counts them by kind.
func sortMismatches(ms []mismatch) string {
	for i := range ms {
		if ms[i].Kind == "" {
			ms[i].Kind = "global"
		}
	}
	sort.SliceStable(ms, func(i, j int) bool { return kindRank[ms[i].Kind] < kindRank[ms[j].Kind] })
	counts := map[string]int{}
	for _, m := range ms {
		counts[m.Kind]++
	}
	var parts []string
	for _, k := range []string{"global", "state", "stuck", "events", "harness"} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s:%d", k, counts[k]))
		}
	}
	return "{" + strings.Join(parts, " ") + "}"
}
