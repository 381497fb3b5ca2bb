package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/client"
)

// Webhook request details.
const (
	// WebhookTimeout bounds one attempt, from connecting to the response's
	// end.
	WebhookTimeout = 10 * time.Second
	// WebhookUserAgent identifies paygate's webhook requests.
	WebhookUserAgent = "paygate-webhooks/1"
	// EventIDHeader carries the event's ID, so a receiver can deduplicate
	// before it parses the body.
	EventIDHeader = client.EventIDHeader
	// noEndpoint is what an attempt records when neither the order nor its
	// merchant has a webhook URL: the event is dead-lettered at once.
	noEndpoint = "no webhook URL configured"
	// maxSnoozeSpread bounds the random part of a snooze behind an open
	// circuit: a backlog of events wakes spread out, and not too often.
	maxSnoozeSpread = 10 * time.Minute
)

// WebhookConfig is what the webhook delivery worker needs beyond its queue.
type WebhookConfig struct {
	Store paygate.Store
	// Egress says where deliveries may connect; the zero value allows
	// https to public addresses only.
	Egress   EgressPolicy
	Breakers *Breakers // default NewBreakers(BreakerConfig{Logger: Logger})
	Logger   *slog.Logger
	// Now signs the webhooks and stamps the attempts; default time.Now.
	Now func() time.Time
	// Observer receives every attempt's result (metrics.go); may be nil.
	Observer WebhookObserver
}

// DeliverEventWorker runs DeliverEventArgs jobs: it POSTs an event's stored
// payload, signed anew, to the order's notify URL (or else its merchant's),
// records the attempt, and leaves retries to River on the Schedule. Any 2xx
// acknowledges. After the last attempt the event is dead-lettered: it waits
// for a re-send by hand (EventService.ResendEvent).
type DeliverEventWorker struct {
	river.WorkerDefaults[DeliverEventArgs]
	cfg    WebhookConfig
	client *http.Client
	// Schedule is the delay before each retry; the queue gives each job
	// len(Schedule)+1 attempts.
	Schedule []time.Duration
}

// RegisterWebhooks adds the webhook delivery worker to q, retrying on q's
// WebhookSchedule, and returns it. A queue that enqueues event deliveries
// needs it registered, even one that never starts (River checks job kinds
// when they are inserted).
func RegisterWebhooks(q *Queue, cfg WebhookConfig) *DeliverEventWorker {
	w := NewDeliverEventWorker(cfg, q.cfg.WebhookSchedule)
	Register(q, w)
	return w
}

// NewDeliverEventWorker makes the worker; a nil schedule is
// DefaultWebhookSchedule.
func NewDeliverEventWorker(cfg WebhookConfig, schedule []time.Duration) *DeliverEventWorker {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Breakers == nil {
		cfg.Breakers = NewBreakers(BreakerConfig{Logger: cfg.Logger})
	}
	if len(schedule) == 0 {
		schedule = DefaultWebhookSchedule
	}
	return &DeliverEventWorker{cfg: cfg, client: newWebhookClient(cfg.Egress), Schedule: schedule}
}

// NextRetry is when a failed attempt is tried again: after the schedule's
// delay for that attempt (its last delay beyond its end).
func (w *DeliverEventWorker) NextRetry(job *river.Job[DeliverEventArgs]) time.Time {
	i := min(max(job.Attempt-1, 0), len(w.Schedule)-1)
	return time.Now().Add(w.Schedule[i])
}

// Timeout leaves room for one attempt and the writes around it.
func (w *DeliverEventWorker) Timeout(*river.Job[DeliverEventArgs]) time.Duration {
	return 2*WebhookTimeout + w.cfg.Breakers.cfg.Wait
}

// Work makes one delivery attempt. It returns nil when the event is
// delivered (now or before: a duplicate job sends nothing) or cannot be (no
// URL, or one the egress policy refuses: recorded and dead-lettered at
// once), an error for River to retry on the schedule, and a snooze, which
// uses up no attempt, when the endpoint is busy with other events or its
// circuit is open.
func (w *DeliverEventWorker) Work(ctx context.Context, job *river.Job[DeliverEventArgs]) error {
	id := job.Args.EventID
	log := w.cfg.Logger.With("event_id", id, "attempt", job.Attempt)
	e, err := w.cfg.Store.EventByID(ctx, id)
	if paygate.ErrorCode(err) == paygate.ENotFound {
		return river.JobCancel(err) // nothing will ever make it appear
	}
	if err != nil {
		return err
	}
	if !e.DeliveredAt.IsZero() {
		return nil
	}
	target, secrets, err := w.endpoint(ctx, e)
	var undeliverable *undeliverableError
	if errors.As(err, &undeliverable) {
		w.observe(WebhookDead, 0)
		return w.giveUp(ctx, log, &paygate.WebhookAttempt{EventID: id, At: w.cfg.Now(), Excerpt: undeliverable.reason}, e.MerchantID)
	}
	if err != nil {
		return err
	}
	if err := w.cfg.Egress.checkURL(target); err != nil {
		w.observe(WebhookRefused, 0)
		return w.giveUp(ctx, log, &paygate.WebhookAttempt{EventID: id, At: w.cfg.Now(), URL: redact(target), Excerpt: excerpt([]byte(err.Error()))}, e.MerchantID)
	}
	last := job.Attempt >= job.MaxAttempts

	done, err := w.cfg.Breakers.Acquire(ctx, EndpointKey(e.MerchantID, target))
	switch {
	case errors.Is(err, ErrEndpointBusy):
		return river.JobSnooze(w.cfg.Breakers.cfg.Wait + rand.N(w.cfg.Breakers.cfg.Wait))
	case errors.Is(err, ErrCircuitOpen):
		return w.circuitOpen(ctx, log, job, e, target, err)
	case err != nil:
		return err
	}
	a, refused := w.send(ctx, target, secrets, e)
	switch {
	case refused != nil:
		done(Abandoned) // nothing was sent: it says nothing about the endpoint
		w.observe(WebhookRefused, 0)
		return w.giveUp(ctx, log, a, e.MerchantID)
	case ctx.Err() != nil && !a.Success:
		// This node is stopping: the attempt says nothing about the
		// endpoint. Run the job again soon, here or on another node.
		done(Abandoned)
		return river.JobSnooze(0)
	case a.Success:
		done(Succeeded)
	default:
		done(Failed)
	}
	if a.Success {
		if err := w.record(ctx, a); err != nil {
			return err // delivered but not recorded: a retry sends it again, which receivers allow
		}
		log.InfoContext(ctx, "webhook delivered", "status", a.StatusCode, "latency_ms", a.Latency.Milliseconds())
		w.observe(WebhookDelivered, a.Latency)
		return nil
	}
	return w.failed(ctx, log, a, last)
}

// giveUp records an attempt that no retry can make succeed (no URL, or one
// the egress policy refuses), dead-letters the event (listed as
// undelivered, re-sendable once the cause is fixed) and finishes the job.
func (w *DeliverEventWorker) giveUp(ctx context.Context, log *slog.Logger, a *paygate.WebhookAttempt, merchantID int64) error {
	log.WarnContext(ctx, "webhook not sent", "reason", a.Excerpt, "merchant_id", merchantID)
	if err := w.record(ctx, a); err != nil {
		return err
	}
	return w.cfg.Store.MarkEventDead(ctx, a.EventID, w.cfg.Now())
}

// circuitOpen snoozes a delivery whose endpoint's circuit is open, without
// using up an attempt: until the circuit half-opens, plus a spread that
// grows with the job's snoozes. A job snoozed for longer than the retry
// schedule lasts gives up: its event is dead-lettered, with an attempt
// saying why.
func (w *DeliverEventWorker) circuitOpen(ctx context.Context, log *slog.Logger, job *river.Job[DeliverEventArgs], e *paygate.Event, target string, err error) error {
	left := w.span() - time.Since(job.CreatedAt)
	if left > 0 {
		var open *CircuitOpenError
		var until time.Time
		if errors.As(err, &open) {
			until = open.Until
		}
		d := min(max(time.Until(until), 0)+rand.N(w.snoozeSpread(job)), left)
		log.DebugContext(ctx, "webhook endpoint's circuit open; delivery snoozed", "endpoint", host(target), "snooze", d.String())
		return river.JobSnooze(d)
	}
	reason := fmt.Sprintf("circuit open for %s for longer than the retry schedule (%s); given up", host(target), w.span())
	w.observe(WebhookDead, 0)
	if err := w.giveUp(ctx, log, &paygate.WebhookAttempt{EventID: e.ID, At: w.cfg.Now(), URL: target, Excerpt: excerpt([]byte(reason))}, e.MerchantID); err != nil {
		return err
	}
	return river.JobCancel(errors.New(reason))
}

// span is how long the retry schedule lasts.
func (w *DeliverEventWorker) span() time.Duration {
	var total time.Duration
	for _, d := range w.Schedule {
		total += d
	}
	return total
}

// snoozeSpread is the random part of the next snooze behind an open
// circuit: OpenFor, doubling with each snooze of the job so far, at most
// maxSnoozeSpread.
func (w *DeliverEventWorker) snoozeSpread(job *river.Job[DeliverEventArgs]) time.Duration {
	var meta struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(job.Metadata, &meta) // River's own; no snoozes is 0
	spread := w.cfg.Breakers.cfg.OpenFor << min(max(meta.Snoozes, 0), 10)
	return max(min(spread, maxSnoozeSpread), time.Millisecond)
}

// failed records a failed attempt and, after the last one, dead-letters
// the event. The error it returns makes River retry (or give up).
func (w *DeliverEventWorker) failed(ctx context.Context, log *slog.Logger, a *paygate.WebhookAttempt, last bool) error {
	if err := w.record(ctx, a); err != nil {
		return err
	}
	failure := fmt.Errorf("webhook to %s failed: status %d: %s", host(a.URL), a.StatusCode, a.Excerpt)
	if last {
		w.observe(WebhookDead, a.Latency)
	} else {
		w.observe(WebhookFailed, a.Latency)
	}
	if !last {
		log.WarnContext(ctx, "webhook attempt failed; will retry", "status", a.StatusCode, "endpoint", host(a.URL))
		return failure
	}
	if err := w.cfg.Store.MarkEventDead(ctx, a.EventID, w.cfg.Now()); err != nil {
		return errors.Join(failure, err)
	}
	log.ErrorContext(ctx, "webhook dead-lettered after its last attempt", "status", a.StatusCode, "endpoint", host(a.URL))
	return failure
}

func (w *DeliverEventWorker) record(ctx context.Context, a *paygate.WebhookAttempt) error {
	if err := w.cfg.Store.RecordWebhookAttempt(ctx, a); err != nil {
		return fmt.Errorf("record webhook attempt: %w", err)
	}
	return nil
}

// undeliverableError is an event that no retry can deliver.
type undeliverableError struct{ reason string }

func (e *undeliverableError) Error() string { return e.reason }

// endpoint finds where e goes and the secrets that sign it (the merchant's
// webhook secret, and the previous one during a rotation's grace): the
// order's notify URL, else its merchant's; an *undeliverableError when
// there is none. The order is the one the payload names
// (data.order.out_trade_no), as the receiver sees it.
func (w *DeliverEventWorker) endpoint(ctx context.Context, e *paygate.Event) (target string, secrets []string, err error) {
	m, err := w.cfg.Store.MerchantByID(ctx, e.MerchantID)
	if err != nil {
		return "", nil, fmt.Errorf("merchant of event %s: %w", e.ID, err)
	}
	var p struct {
		Data struct {
			Order struct {
				OutTradeNo string `json:"out_trade_no"`
			} `json:"order"`
		} `json:"data"`
	}
	if err := json.Unmarshal(e.Payload, &p); err != nil || p.Data.Order.OutTradeNo == "" {
		return "", nil, &undeliverableError{"the event's payload names no order"}
	}
	o, err := w.cfg.Store.OrderByOutTradeNo(ctx, m.ID, p.Data.Order.OutTradeNo)
	if err != nil {
		return "", nil, fmt.Errorf("order of event %s: %w", e.ID, err)
	}
	switch {
	case o.NotifyURL != "":
		return o.NotifyURL, m.WebhookSecrets(w.cfg.Now()), nil
	case m.NotifyURL != "":
		return m.NotifyURL, m.WebhookSecrets(w.cfg.Now()), nil
	}
	return "", nil, &undeliverableError{noEndpoint}
}

// send POSTs the payload, exactly as stored, signed now with every one of
// secrets (the merchant's valid webhook secrets) in both header sets,
// Paygate-Signature and Standard Webhooks (client.SignWebhookHeaders). It
// returns the attempt, not yet recorded, and a *RefusedError when the egress
// policy refused the connection (nothing was sent; the attempt says why).
// The body and the secrets appear in no log.
func (w *DeliverEventWorker) send(ctx context.Context, target string, secrets []string, e *paygate.Event) (*paygate.WebhookAttempt, error) {
	now := w.cfg.Now()
	a := &paygate.WebhookAttempt{EventID: e.ID, At: now, URL: target}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(e.Payload))
	if err != nil {
		a.Excerpt = excerpt([]byte("invalid webhook URL: " + err.Error()))
		return a, nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", WebhookUserAgent)
	client.SignWebhookHeaders(req.Header, e.ID, secrets, now, e.Payload)
	start := time.Now()
	resp, err := w.client.Do(req)
	if err != nil {
		a.Latency = time.Since(start)
		var refused *RefusedError
		if errors.As(err, &refused) {
			a.Excerpt = excerpt([]byte(refused.Error()))
			return a, refused
		}
		a.Excerpt = excerpt([]byte(transportError(err)))
		return a, nil
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, paygate.MaxExcerpt))
	// Drain a little more so the connection can be reused; not a big body.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	a.Latency = time.Since(start)
	a.StatusCode = resp.StatusCode
	a.Success = resp.StatusCode >= 200 && resp.StatusCode < 300
	a.Excerpt = excerpt(head)
	return a, nil
}

// transportError is err without the "Post <url>:" that net/http puts
// before the reason.
func transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// excerpt makes b storable and showable: valid UTF-8, control characters
// (NUL included, which PostgreSQL's text refuses) as spaces, at most
// MaxExcerpt bytes, never cutting a character.
func excerpt(b []byte) string {
	// The body was cut at MaxExcerpt bytes: drop a last character cut in two
	// rather than show it as invalid.
	if i := lastRuneStart(b); i >= 0 && !utf8.FullRune(b[i:]) {
		b = b[:i]
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) > paygate.MaxExcerpt {
		s = strings.ToValidUTF8(s[:paygate.MaxExcerpt], "") // drops a character cut in two
	}
	return strings.TrimSpace(s)
}

// lastRuneStart is the index where b's last (possibly partial) character
// starts, or -1.
func lastRuneStart(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			return i
		}
	}
	return -1
}

// redact is a webhook URL without its user information (a credential),
// for the record.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User = nil
	return u.String()
}

// host is the host of a webhook URL, for messages.
func host(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}
