package alipaysim

import (
	"context"
	"crypto/rsa"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/simfault"
	"github.com/paygate/paygate/simjournal"
)

// Notification delivery bounds.
const (
	notifyTimeout    = 15 * time.Second // one delivery
	notifyBodyLimit  = 64 << 10         // read at most this much of a reply
	notifyExcerpt    = 200              // bytes of a reply kept in the log
	maxAttemptsKept  = 100_000          // attempts kept for Notifications()
	defaultNotifyers = 8
)

// NotifyAttempt is one delivery of a notification, or a record that the
// notify_drop_rate fault dropped it.
type NotifyAttempt struct {
	NotifyID    string            `json:"notify_id"`
	URL         string            `json:"url"`
	AppID       string            `json:"app_id"`
	TradeNo     string            `json:"trade_no"`
	OutTradeNo  string            `json:"out_trade_no"`
	TradeStatus string            `json:"trade_status"`
	Attempt     int               `json:"attempt"`   // 1 for the first delivery; 0 when dropped
	Duplicate   bool              `json:"duplicate"` // the second copy of a duplicated delivery
	Dropped     bool              `json:"dropped"`   // never sent (fault)
	At          time.Time         `json:"at"`
	HTTPStatus  int               `json:"http_status"` // 0 when no response came
	Body        string            `json:"body"`        // the start of the reply
	Error       string            `json:"error,omitempty"`
	Acked       bool              `json:"acknowledged"` // the reply was exactly "success" with HTTP 200
	GaveUp      bool              `json:"gave_up"`      // the last attempt of the schedule failed
	Form        map[string]string `json:"form"`         // the fields sent, sign included
}

// notification is one event to deliver until acknowledged; it survives a
// restart when the simulator persists.
type notification struct {
	ID          string            `json:"id"`
	URL         string            `json:"url"`
	AppID       string            `json:"app_id"`
	TradeNo     string            `json:"trade_no"`
	OutTradeNo  string            `json:"out_trade_no"`
	TradeStatus string            `json:"trade_status"`
	Fields      map[string]string `json:"fields"` // all but notify_time and sign
	Attempts    int               `json:"attempts"`
	NextAt      time.Time         `json:"next_at"`
	seq         uint64            // order of creation, for DeliverDue; not persisted
}

// notifier delivers notifications on Alipay's schedule with a bounded pool
// of workers. It never takes the Server's trade lock.
type notifier struct {
	key     *rsa.PrivateKey
	now     func() time.Time
	client  *http.Client
	log     *slog.Logger
	store   *simjournal.Journal
	dice    *simfault.Dice
	faults  func() Faults
	workers int
	poll    time.Duration // longest sleep, so a moved test clock is noticed

	mu       sync.Mutex
	pending  map[string]*notification
	seq      uint64 // numbers notifications as they are added
	inflight map[string]bool
	attempts []NotifyAttempt
	wake     chan struct{}
}

// screen applies notify_drop_rate: dropped notifications are recorded and
// never sent. nil entries (no notify_url) are skipped.
func (n *notifier) screen(notes []*notification) []*notification {
	var kept []*notification
	f := n.faults()
	for _, nt := range notes {
		if nt == nil {
			continue
		}
		if n.dice.Roll(f.NotifyDropRate) {
			n.record(NotifyAttempt{
				NotifyID: nt.ID, URL: nt.URL, AppID: nt.AppID, TradeNo: nt.TradeNo, OutTradeNo: nt.OutTradeNo,
				TradeStatus: nt.TradeStatus, Dropped: true, At: n.now(), Form: nt.Fields,
			})
			continue
		}
		kept = append(kept, nt)
	}
	return kept
}

// add queues notifications for delivery.
func (n *notifier) add(notes []*notification) {
	if len(notes) == 0 {
		return
	}
	n.mu.Lock()
	for _, nt := range notes {
		n.seq++
		nt.seq = n.seq
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

func (n *notifier) record(a NotifyAttempt) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.attempts) >= maxAttemptsKept {
		n.attempts = slices.Delete(n.attempts, 0, len(n.attempts)/10)
	}
	n.attempts = append(n.attempts, a)
}

// history returns a copy of every recorded attempt, oldest first.
func (n *notifier) history() []NotifyAttempt {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append(make([]NotifyAttempt, 0, len(n.attempts)), n.attempts...) // never nil: JSON []
}

// run dispatches due notifications to workers until ctx ends. It is one
// member of wg and adds each worker to it.
func (n *notifier) run(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	sem := make(chan struct{}, n.workers)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		due, wait := n.due()
		for i, nt := range due {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				n.release(due[i:])
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				n.deliver(ctx, nt)
			}()
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
		case <-timer.C:
		}
	}
}

// due marks and returns the notifications whose time has come, and how long
// to sleep before looking again.
func (n *notifier) due() ([]*notification, time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.now()
	wait := n.poll
	var out []*notification
	for id, nt := range n.pending {
		if n.inflight[id] {
			continue
		}
		if d := nt.NextAt.Sub(now); d > 0 {
			wait = min(wait, d)
			continue
		}
		n.inflight[id] = true
		out = append(out, nt)
	}
	slices.SortFunc(out, func(a, b *notification) int { return a.NextAt.Compare(b.NextAt) })
	return out, max(wait, time.Millisecond)
}

// release hands notifications back undelivered (shutdown).
func (n *notifier) release(notes []*notification) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, nt := range notes {
		delete(n.inflight, nt.ID)
	}
}

// deliver makes one scheduled delivery (two with the duplicate fault), then
// retires the notification or schedules its next attempt. A delivery cut
// short by shutdown does not count: it is made again after a restart.
func (n *notifier) deliver(ctx context.Context, nt *notification) {
	f := n.faults()
	if d := n.dice.UpTo(f.NotifyDelayMS); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			n.release([]*notification{nt})
			return
		case <-t.C:
		}
	}
	copies := 1
	if n.dice.Roll(f.NotifyDuplicateRate) {
		copies = 2
	}
	n.mu.Lock()
	attempt := nt.Attempts + 1
	n.mu.Unlock()
	var sent []NotifyAttempt
	for i := range copies {
		a := n.post(ctx, nt, attempt, i > 0)
		if ctx.Err() != nil {
			n.release([]*notification{nt})
			return
		}
		sent = append(sent, a)
	}
	n.finish(nt, sent, f)
}

// finish records the attempts and moves the notification on.
func (n *notifier) finish(nt *notification, sent []NotifyAttempt, f Faults) {
	acked := false
	for _, a := range sent {
		acked = acked || a.Acked
	}
	schedule, err := parseSchedule(f.NotifySchedule)
	if err != nil {
		schedule = alipaySchedule()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.inflight, nt.ID)
	nt.Attempts++
	var rec simjournal.Record
	switch {
	case acked:
		delete(n.pending, nt.ID)
		rec = simjournal.Delete(kindNotify, nt.ID)
	case nt.Attempts > len(schedule):
		delete(n.pending, nt.ID)
		rec = simjournal.Delete(kindNotify, nt.ID)
		sent[len(sent)-1].GaveUp = true
		n.log.Warn("notification given up", "notify_id", nt.ID, "url", nt.URL, "attempts", nt.Attempts)
	default:
		nt.NextAt = sent[0].At.Add(schedule[nt.Attempts-1]) // counted from the attempt
		rec = simjournal.Put(kindNotify, nt.ID, nt)
	}
	if err := n.store.Append(rec); err != nil {
		n.log.Error("persist notification", "notify_id", nt.ID, "err", err)
	}
	for _, a := range sent {
		if len(n.attempts) >= maxAttemptsKept {
			n.attempts = slices.Delete(n.attempts, 0, len(n.attempts)/10)
		}
		n.attempts = append(n.attempts, a)
	}
}

// post sends one signed form POST (§5.1, §5.3) and reports what came back.
func (n *notifier) post(ctx context.Context, nt *notification, attempt int, duplicate bool) NotifyAttempt {
	now := n.now()
	form := url.Values{}
	for k, v := range nt.Fields {
		form.Set(k, v)
	}
	form.Set("notify_time", alipay.FormatTime(now))
	sign, err := alipay.Sign(n.key, []byte(alipay.SignContent(form, "sign", "sign_type")))
	if err != nil {
		n.log.Error("sign notification", "err", err)
	}
	form.Set("sign", sign)
	a := NotifyAttempt{
		NotifyID: nt.ID, URL: nt.URL, AppID: nt.AppID, TradeNo: nt.TradeNo, OutTradeNo: nt.OutTradeNo,
		TradeStatus: nt.TradeStatus, Attempt: attempt, Duplicate: duplicate, At: now,
		Form: make(map[string]string, len(form)),
	}
	for k := range form {
		a.Form[k] = form.Get(k)
	}
	ctx, cancel := context.WithTimeout(ctx, notifyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, nt.URL, strings.NewReader(form.Encode()))
	if err != nil {
		a.Error = err.Error()
		return a
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	resp, err := n.client.Do(req)
	if err != nil {
		a.Error = err.Error()
		n.log.Info("notification not delivered", "notify_id", nt.ID, "attempt", attempt, "err", err)
		return a
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, notifyBodyLimit))
	if err != nil {
		a.Error = err.Error()
	}
	a.HTTPStatus = resp.StatusCode
	a.Body = string(body[:min(len(body), notifyExcerpt)])
	a.Acked = err == nil && resp.StatusCode == http.StatusOK && string(body) == "success"
	n.log.Info("notification delivered", "notify_id", nt.ID, "attempt", attempt,
		"trade_status", nt.TradeStatus, "http_status", resp.StatusCode, "acknowledged", a.Acked)
	return a
}
