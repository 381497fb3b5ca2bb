package cashier

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/paygate/paygate"
)

// snapshot is what a stream sends: the order's state for the buyer.
type snapshot struct {
	State State `json:"state"`
	Final bool  `json:"final"`  // the order is settled: the stream ends after this
	HasQR bool  `json:"has_qr"` // a code exists, Alipay's or WeChat's (a page drawn without one reloads)
	// Codes is how many codes the order has (a page drawn with fewer
	// reloads to draw them all).
	Codes int `json:"codes"`
	// Wallet is the channel that was paid, alipay or wechat, once paid
	// (paidWallet); the page names it.
	Wallet  paygate.Channel `json:"wallet,omitempty"`
	Version int64           `json:"-"`
}

func snapshotOf(o *paygate.Order, now time.Time) snapshot {
	codes := len(o.QRCodes())
	return snapshot{State: stateOf(o, now), Final: settled(o), HasQR: codes > 0, Codes: codes, Wallet: paidWallet(o), Version: o.Version}
}

// same reports whether the buyer would see no difference.
func (s snapshot) same(o snapshot) bool {
	return s.State == o.State && s.Final == o.Final && s.HasQR == o.HasQR && s.Codes == o.Codes && s.Wallet == o.Wallet
}

// hub keeps one watcher per token that has streams: a watcher reads its
// order every interval and hands each change to the token's streams, so the
// store sees one query per token per interval however many buyers (or
// tabs) watch it. The state is the store's, so this works across replicas.
type hub struct {
	store    Store
	now      func() time.Time
	interval time.Duration
	log      *slog.Logger
	ctx      context.Context // ends at stop
	cancel   context.CancelFunc

	mu       sync.Mutex
	watchers map[string]*watcher
	stopped  bool
}

// watcher is one token's poller and its subscribers. Each subscriber's
// channel holds at most the latest snapshot: a slow stream skips states,
// never blocks the watcher. The hub's mutex guards it.
type watcher struct {
	token string
	subs  map[chan snapshot]struct{}
	last  snapshot
	seen  bool // last is set
}

func newHub(store Store, now func() time.Time, interval time.Duration, log *slog.Logger) *hub {
	ctx, cancel := context.WithCancel(context.Background())
	return &hub{store: store, now: now, interval: interval, log: log, ctx: ctx, cancel: cancel, watchers: map[string]*watcher{}}
}

// subscribe returns a channel of token's snapshots (the latest known one
// first, if any) and its cancel. The channel is closed when the watcher
// ends: the order settled (after its final snapshot), or the hub stopped.
// After stop, the channel comes closed.
func (h *hub) subscribe(token string) (<-chan snapshot, func()) {
	ch := make(chan snapshot, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		close(ch)
		return ch, func() {}
	}
	w := h.watchers[token]
	if w == nil {
		w = &watcher{token: token, subs: map[chan snapshot]struct{}{}}
		h.watchers[token] = w
		go h.run(w)
	}
	w.subs[ch] = struct{}{}
	if w.seen {
		ch <- w.last
	}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(w.subs, ch) // the watcher sees it has none left at its next read
	}
}

// watchers is how many tokens are being watched (for tests and metrics).
func (h *hub) watching() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.watchers)
}

// stop ends every watcher and closes every subscriber's channel.
func (h *hub) stop() {
	h.mu.Lock()
	h.stopped = true
	for token, w := range h.watchers {
		w.end()
		delete(h.watchers, token)
	}
	h.mu.Unlock()
	h.cancel()
}

// end closes w's subscribers' channels. The caller holds the hub's mutex.
func (w *watcher) end() {
	for ch := range w.subs {
		close(ch)
	}
	w.subs = nil
}

// publish hands s to every subscriber, replacing what it has not read
// yet. The caller holds the hub's mutex (the only sender).
func (w *watcher) publish(s snapshot) {
	for ch := range w.subs {
		select {
		case <-ch:
		default:
		}
		ch <- s
	}
}

// run polls w's order until it settles, nobody watches, or the hub stops.
// A failed read is logged once per run of failures and retried: the
// streams stay open through a short database outage.
func (h *hub) run(w *watcher) {
	tick := time.NewTicker(h.interval)
	defer tick.Stop()
	failing := false
	for {
		snap, err := h.read(w.token)
		switch {
		case err != nil && !failing:
			failing = true
			h.log.Warn("cashier: watching an order: read failed; retrying", "err", err)
		case err == nil && failing:
			failing = false
			h.log.Info("cashier: watching an order: reads work again")
		}
		h.mu.Lock()
		if h.stopped || w.subs == nil {
			h.mu.Unlock()
			return // stop ended it
		}
		if err == nil && (!w.seen || !snap.same(w.last)) {
			w.last, w.seen = snap, true
			w.publish(snap)
		}
		if (err == nil && snap.Final) || len(w.subs) == 0 || paygate.ErrorCode(err) == paygate.ENotFound {
			w.end()
			delete(h.watchers, w.token)
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		select {
		case <-tick.C:
		case <-h.ctx.Done():
			return
		}
	}
}

// read is one poll of the token's order, bounded so that a hung database
// cannot stall the watcher past a few intervals.
func (h *hub) read(token string) (snapshot, error) {
	ctx, cancel := context.WithTimeout(h.ctx, max(5*h.interval, 5*time.Second))
	defer cancel()
	o, err := h.store.OrderByCashierToken(ctx, token)
	if err != nil {
		return snapshot{}, err
	}
	return snapshotOf(o, h.now()), nil
}
