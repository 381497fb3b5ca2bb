package wechatpaysim

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/paygate/paygate/simfault"
	"github.com/paygate/paygate/simjournal"
	"github.com/paygate/paygate/wechatpay"
)

// Notification delivery bounds.
const (
	notifyTimeout   = 5 * time.Second // the merchant must answer within 5 s (§6.4)
	notifyWorkers   = 8
	maxAttemptsKept = 100_000
)

// wechatSchedule is §6.5's gaps after each failed delivery: 16 deliveries
// over 24 h 4 min.
func wechatSchedule() []time.Duration {
	m, h := time.Minute, time.Hour
	return []time.Duration{15 * time.Second, 15 * time.Second, 30 * time.Second, 3 * m, 10 * m, 20 * m, 30 * m,
		30 * m, 30 * m, 60 * m, 3 * h, 3 * h, 3 * h, 6 * h, 6 * h}
}

// notification is one event delivered until the merchant acknowledges it;
// Body is encrypted once, each delivery is signed anew.
type notification struct {
	ID          string    `json:"id"`
	MchID       string    `json:"mchid"`
	URL         string    `json:"url"`
	EventType   string    `json:"event_type"`
	OutTradeNo  string    `json:"out_trade_no"`
	OutRefundNo string    `json:"out_refund_no,omitempty"`
	Body        string    `json:"body"`
	Attempts    int       `json:"attempts"`
	NextAt      time.Time `json:"next_at"`
}

// NotifyAttempt is one delivery of a notification, or a record that the
// notify_drop_rate fault dropped it.
type NotifyAttempt struct {
	NotifyID    string    `json:"notify_id"`
	URL         string    `json:"url"`
	MchID       string    `json:"mchid"`
	EventType   string    `json:"event_type"`
	OutTradeNo  string    `json:"out_trade_no"`
	OutRefundNo string    `json:"out_refund_no,omitempty"`
	Attempt     int       `json:"attempt"` // 1 for the first; 0 when dropped
	Duplicate   bool      `json:"duplicate"`
	Dropped     bool      `json:"dropped"`
	At          time.Time `json:"at"`
	HTTPStatus  int       `json:"http_status"` // 0 when no answer came
	Error       string    `json:"error,omitempty"`
	Acked       bool      `json:"acknowledged"` // 200 or 204 within 5 s
	GaveUp      bool      `json:"gave_up"`
}

// newNotification encrypts resource with the merchant's APIv3 key into a
// notification for url; nil (logged) when the merchant is gone.
func (s *Server) newNotification(t *trade, url, event, summary, originalType, outRefundNo string, resource any, now time.Time) *notification {
	m, ok := s.merchant(t.MchID)
	if !ok {
		s.log.Error("notification for an unknown merchant", "mchid", t.MchID)
		return nil
	}
	id := newNotifyID()
	body, err := wechatpay.NewNotification(m.APIv3Key, id, now, event, summary, originalType, resource)
	if err != nil {
		s.log.Error("build notification", "err", err)
		return nil
	}
	return &notification{ID: id, MchID: t.MchID, URL: url, EventType: event, OutTradeNo: t.OutTradeNo,
		OutRefundNo: outRefundNo, Body: string(body), NextAt: now}
}

// notifier delivers notifications with a bounded pool; it never takes the
// Server's trade lock.
type notifier struct {
	s        *Server
	mu       sync.Mutex
	pending  map[string]*notification
	inflight map[string]bool
	attempts []NotifyAttempt
	wake     chan struct{}
}

func newNotifier(s *Server) *notifier {
	return &notifier{s: s, pending: map[string]*notification{}, inflight: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// add queues notifications (already journaled), applying notify_drop_rate.
func (n *notifier) add(notes ...*notification) {
	f := n.s.Faults()
	n.mu.Lock()
	for _, nt := range notes {
		if nt == nil {
			continue
		}
		if n.s.dice.Roll(f.NotifyDropRate) {
			n.keep(NotifyAttempt{NotifyID: nt.ID, URL: nt.URL, MchID: nt.MchID, EventType: nt.EventType,
				OutTradeNo: nt.OutTradeNo, OutRefundNo: nt.OutRefundNo, Dropped: true, At: n.s.now()})
			if err := n.s.journal.Append(simjournal.Delete(kindNotify, nt.ID)); err != nil {
				n.s.log.Error("journal dropped notification", "err", err)
			}
			continue
		}
		n.pending[nt.ID] = nt
	}
	n.mu.Unlock()
	n.poke()
}

func (n *notifier) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// keep records an attempt (n.mu held).
func (n *notifier) keep(a NotifyAttempt) {
	if len(n.attempts) >= maxAttemptsKept {
		n.attempts = slices.Delete(n.attempts, 0, len(n.attempts)/10)
	}
	n.attempts = append(n.attempts, a)
}

// Notifications returns every notification attempt so far, oldest first.
func (s *Server) Notifications() []NotifyAttempt {
	s.notifier.mu.Lock()
	defer s.notifier.mu.Unlock()
	return append([]NotifyAttempt{}, s.notifier.attempts...)
}

// run starts deliveries as they fall due until ctx ends.
func (n *notifier) run(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	sem := make(chan struct{}, notifyWorkers)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		n.mu.Lock()
		now, wait := n.s.now(), n.s.cfg.SweepInterval
		var due []*notification
		for id, nt := range n.pending {
			if d := nt.NextAt.Sub(now); d > 0 {
				wait = min(wait, d)
			} else if !n.inflight[id] {
				n.inflight[id] = true
				due = append(due, nt)
			}
		}
		n.mu.Unlock()
		slices.SortFunc(due, func(a, b *notification) int { return a.NextAt.Compare(b.NextAt) })
		for _, nt := range due {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				n.deliver(ctx, nt)
			}()
		}
		timer.Reset(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
		case <-timer.C:
		}
	}
}

// deliver makes one scheduled delivery (two with the duplicate fault) and
// moves the notification on; one cut short by shutdown does not count.
func (n *notifier) deliver(ctx context.Context, nt *notification) {
	f := n.s.Faults()
	release := func() { n.mu.Lock(); delete(n.inflight, nt.ID); n.mu.Unlock() }
	if d := n.s.dice.UpTo(f.NotifyDelayMS); d > 0 && !sleep(ctx, d) {
		release()
		return
	}
	copies := 1
	if n.s.dice.Roll(f.NotifyDuplicateRate) {
		copies = 2
	}
	var sent []NotifyAttempt
	for i := range copies {
		a := n.post(ctx, nt, i > 0)
		if ctx.Err() != nil {
			release()
			return
		}
		sent = append(sent, a)
	}
	schedule, err := simfault.ParseSchedule(f.NotifySchedule, wechatSchedule())
	if err != nil {
		schedule = wechatSchedule()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.inflight, nt.ID)
	nt.Attempts++
	rec := simjournal.Delete(kindNotify, nt.ID)
	switch {
	case slices.ContainsFunc(sent, func(a NotifyAttempt) bool { return a.Acked }):
		delete(n.pending, nt.ID)
	case nt.Attempts > len(schedule):
		delete(n.pending, nt.ID)
		sent[len(sent)-1].GaveUp = true
		n.s.log.Warn("notification given up", "notify_id", nt.ID, "attempts", nt.Attempts)
	default:
		nt.NextAt = sent[0].At.Add(schedule[nt.Attempts-1])
		rec = simjournal.Put(kindNotify, nt.ID, nt)
	}
	if err := n.s.journal.Append(rec); err != nil {
		n.s.log.Error("journal notification", "notify_id", nt.ID, "err", err)
	}
	for _, a := range sent {
		n.keep(a)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// post sends the notification once, signed now (§6.2), and reports the
// merchant's answer: 200 or 204 is success (§6.4).
func (n *notifier) post(ctx context.Context, nt *notification, duplicate bool) NotifyAttempt {
	now := n.s.now()
	n.mu.Lock()
	attempt := nt.Attempts + 1
	n.mu.Unlock()
	a := NotifyAttempt{NotifyID: nt.ID, URL: nt.URL, MchID: nt.MchID, EventType: nt.EventType, OutTradeNo: nt.OutTradeNo,
		OutRefundNo: nt.OutRefundNo, Attempt: attempt, Duplicate: duplicate, At: now}
	ctx, cancel := context.WithTimeout(ctx, notifyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, nt.URL, bytes.NewReader([]byte(nt.Body)))
	if err != nil {
		a.Error = err.Error()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Mozilla/4.0")
	if err := n.s.signer.SignHeaders(req.Header, []byte(nt.Body), now); err != nil {
		a.Error = err.Error()
		return a
	}
	resp, err := n.s.cfg.HTTPClient.Do(req)
	if err != nil {
		a.Error = err.Error()
		return a
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	a.HTTPStatus = resp.StatusCode
	a.Acked = err == nil && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent)
	n.s.log.Info("wechat pay notification delivered", "notify_id", nt.ID, "attempt", attempt,
		"event_type", nt.EventType, "http_status", resp.StatusCode, "acknowledged", a.Acked)
	return a
}
