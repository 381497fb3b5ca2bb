package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/paygate/paygate"
)

// ErrNotSent is in the chain of an error returned for a call that never left
// this process: nothing reached the channel, so nothing can have happened there.
// The use cases may then treat a brand-new order as never offered.
var ErrNotSent = errors.New("gateway: the call was not sent to the channel")

// ResilientConfig sets up a ResilientChannel. Zero values take the defaults.
type ResilientConfig struct {
	// Name is the channel account (the app id): the breaker's name in logs
	// and metrics. Default: the inner channel's AppID().
	Name string
	// BreakerFailures consecutive channel failures (IsChannelFailure) open
	// the circuit; default 5. BreakerOpen is how long it stays open before
	// letting HalfOpenRequests probes through; defaults 30 s and 1. That
	// many successful probes close it again; a failed probe reopens it.
	BreakerFailures  int
	BreakerOpen      time.Duration
	HalfOpenRequests int
	// RetryAttempts bounds the attempts of a call that is safe to repeat,
	// the first included (1 turns retries off); default 3. Waits grow from
	// RetryBase, doubling, capped at RetryMax (defaults 200 ms and 2 s),
	// each drawn at random below its bound (full jitter).
	RetryAttempts int
	RetryBase     time.Duration
	RetryMax      time.Duration
	// Logger receives one line per retry and per breaker state change.
	Logger *slog.Logger
	// Now is the clock a retry's wait is checked against the call's
	// deadline with; default time.Now. (The breaker's open period runs on
	// gobreaker's own clock, time.Now.)
	Now func() time.Time
	// Sleep waits between attempts and must return ctx.Err() once ctx is
	// done; default a timer that stops on ctx.Done().
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter draws the wait below a bound; default uniform in [0, d].
	Jitter func(d time.Duration) time.Duration
	// OnStateChange, when set, hears every breaker transition ("closed",
	// "half-open", "open"), e.g. for a metric. It runs under the breaker's
	// lock: it must be quick and must not call back into the channel.
	OnStateChange func(name, from, to string)
}

// ResilientChannel wraps a Channel with a circuit breaker for its account
// and retries where repeating a call is safe (§3 of the protocol notes).
//
// While the circuit is open, Precreate and Pay, which start new business,
// fail at once without calling the channel, with a paygate CHANNEL_UNAVAILABLE
// error that also wraps ErrNotSent. Query, Cancel, Close, Refund and
// RefundQuery settle business already started and are always sent: a
// settled payment is worth more than a spared channel.
//
// Query, Close, Refund (same out_request_no), RefundQuery and Precreate
// (same out_trade_no) are retried on channel failures; Cancel only when no
// answer was read at all, since the use case already repeats a cancel that
// the channel asks for again (retry_flag=Y); Pay never (it is queried instead).
// Business answers, config errors and a cancelled context are returned as
// they are, and nothing is repeated once ctx is done. Every attempt counts
// towards the breaker on its own.
type ResilientChannel struct {
	inner Channel
	cfg   ResilientConfig
	log   *slog.Logger
	cb    *gobreaker.TwoStepCircuitBreaker[struct{}]
}

var _ Channel = (*ResilientChannel)(nil)

// NewResilientChannel wraps inner; see ResilientChannel.
func NewResilientChannel(inner Channel, cfg ResilientConfig) *ResilientChannel {
	if cfg.Name == "" {
		cfg.Name = inner.Account()
	}
	if cfg.BreakerFailures <= 0 {
		cfg.BreakerFailures = 5
	}
	setDefault(&cfg.BreakerOpen, 30*time.Second)
	if cfg.HalfOpenRequests <= 0 {
		cfg.HalfOpenRequests = 1
	}
	if cfg.RetryAttempts <= 0 {
		cfg.RetryAttempts = 3
	}
	setDefault(&cfg.RetryBase, 200*time.Millisecond)
	setDefault(&cfg.RetryMax, 2*time.Second)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if cfg.Jitter == nil {
		cfg.Jitter = func(d time.Duration) time.Duration { return rand.N(d + 1) }
	}
	r := &ResilientChannel{inner: inner, cfg: cfg, log: cfg.Logger.With("channel", cfg.Name)}
	failures := uint32(cfg.BreakerFailures)
	r.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        cfg.Name,
		MaxRequests: uint32(cfg.HalfOpenRequests),
		Timeout:     cfg.BreakerOpen,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		IsSuccessful: func(err error) bool {
			return !errors.Is(err, errCountFailure)
		},
		IsExcluded: func(err error) bool { return errors.Is(err, errCountNothing) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			// Every change is a warning: an operator wants to see the
			// channel fail and come back. The reason names the cause.
			r.log.Log(context.Background(), slog.LevelWarn, "channel circuit changed state", "reason", breakerReason(from, to),
				"from", from.String(), "to", to.String(), "open_for", cfg.BreakerOpen.String())
			if cfg.OnStateChange != nil {
				cfg.OnStateChange(name, from.String(), to.String())
			}
		},
	})
	return r
}

// What one attempt tells the breaker; anything else is a success.
var (
	errCountFailure = errors.New("channel failure")
	errCountNothing = errors.New("says nothing about the channel")
)

// State is the breaker's state: "closed", "half-open" or "open".
func (r *ResilientChannel) State() string { return r.cb.State().String() }

// IsChannelFailure reports whether err shows the channel itself failing, as
// opposed to answering: no answer in time or at all, an HTTP error, a body
// that cannot be read or trusted, 20000, ACQ.SYSTEM_ERROR, rate limiting
// (every OutcomeUnknown). A business refusal, 10003, a config error,
// a cancelled caller context and a call never sent are not.
func IsChannelFailure(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, ErrNotSent) {
		return false
	}
	return OutcomeOf(err) == OutcomeUnknown
}

// noAnswer reports whether err is a channel failure in which no
// result was read at all (transport, timeout, HTTP status, unreadable body).
func noAnswer(err error) bool {
	var e *ChannelError
	return IsChannelFailure(err) && (!errors.As(err, &e) || !e.Answered)
}

// call describes one channel method to do.
type call struct {
	method string
	starts bool             // starts new business: refused while open
	retry  func(error) bool // which failures to repeat; nil never
	ref    string           // out_trade_no, for logs
}

// do runs fn through the breaker, repeating it as c allows. The response
// is never nil, as with every Channel.
func do[T any](ctx context.Context, r *ResilientChannel, c call, fn func(context.Context) (*T, error)) (*T, error) {
	var resp *T
	var err error
	for attempt := 1; ; attempt++ {
		done, berr := r.cb.Allow()
		if berr != nil && c.starts {
			if attempt > 1 {
				return resp, err // an earlier attempt was sent: its outcome stands
			}
			return new(T), fmt.Errorf("%s: %w: %w", c.method, ErrNotSent, paygate.Errorf(paygate.EChannelUnavailable,
				"the payment channel is unavailable after repeated failures; try again shortly"))
		}
		// A settling call refused by an open (or busy half-open) breaker is
		// sent anyway; its outcome is not recorded.
		spent := ctx.Err() != nil
		resp, err = fn(ctx)
		if done != nil {
			done(verdict(err, spent))
		}
		if err == nil || c.retry == nil || !c.retry(err) || attempt >= r.cfg.RetryAttempts {
			return resp, err
		}
		if cerr := ctx.Err(); cerr != nil {
			// Cancelled during the attempt: the same answer as when cancelled
			// during the backoff, the failure and why it was not retried.
			return resp, fmt.Errorf("%w; not retried: %w", err, cerr)
		}
		wait := r.cfg.Jitter(r.backoff(attempt))
		if deadline, ok := ctx.Deadline(); ok && !r.cfg.Now().Add(wait).Before(deadline) {
			return resp, err // the next attempt could not finish in time
		}
		r.log.WarnContext(ctx, "channel call failed; retrying", "method", c.method, "out_trade_no", c.ref,
			"attempt", attempt, "wait", wait.String(), "err", err)
		if serr := r.cfg.Sleep(ctx, wait); serr != nil {
			return resp, fmt.Errorf("%w; not retried: %w", err, serr)
		}
	}
}

// verdict is what an attempt tells the breaker. spent: ctx was already done
// before the attempt, so its failure says nothing about the channel.
func verdict(err error, spent bool) error {
	switch {
	case spent || errors.Is(err, context.Canceled):
		return errCountNothing
	case IsChannelFailure(err):
		return errCountFailure
	}
	return nil
}

// backoff is the bound of the wait after the given attempt: RetryBase
// doubled per attempt, capped at RetryMax.
func (r *ResilientChannel) backoff(attempt int) time.Duration {
	d := r.cfg.RetryBase
	for i := 1; i < attempt && d < r.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, r.cfg.RetryMax)
}

// Name is the inner channel's name.
func (r *ResilientChannel) Name() string { return r.inner.Name() }

// Account is the inner channel's account.
func (r *ResilientChannel) Account() string { return r.inner.Account() }

// Method is the inner channel's name of op.
func (r *ResilientChannel) Method(op Op) string { return r.inner.Method(op) }

// Precreate is refused while open and retried on channel failures: the same
// out_trade_no and parameters give the same code.
func (r *ResilientChannel) Precreate(ctx context.Context, req PrecreateRequest) (*Precreated, error) {
	c := call{method: r.Method(OpPrecreate), starts: true, retry: IsChannelFailure, ref: req.ChannelNo}
	return do(ctx, r, c, func(ctx context.Context) (*Precreated, error) { return r.inner.Precreate(ctx, req) })
}

// Pay is refused while open and never retried: a pay whose outcome is
// unknown may have charged the buyer and is queried by the use case.
func (r *ResilientChannel) Pay(ctx context.Context, req PayRequest) (*Trade, error) {
	c := call{method: r.Method(OpPay), starts: true, ref: req.ChannelNo}
	return do(ctx, r, c, func(ctx context.Context) (*Trade, error) { return r.inner.Pay(ctx, req) })
}

// Query is always sent and retried on channel failures.
func (r *ResilientChannel) Query(ctx context.Context, channelNo string) (*Trade, error) {
	c := call{method: r.Method(OpQuery), retry: IsChannelFailure, ref: channelNo}
	return do(ctx, r, c, func(ctx context.Context) (*Trade, error) { return r.inner.Query(ctx, channelNo) })
}

// Cancel is always sent and retried only when no answer was read: an
// answer asking for a repeat (retry_flag=Y) is the use case's to repeat.
func (r *ResilientChannel) Cancel(ctx context.Context, channelNo string) (*Cancellation, error) {
	c := call{method: r.Method(OpCancel), retry: noAnswer, ref: channelNo}
	return do(ctx, r, c, func(ctx context.Context) (*Cancellation, error) { return r.inner.Cancel(ctx, channelNo) })
}

// Close is always sent and retried on channel failures.
func (r *ResilientChannel) Close(ctx context.Context, channelNo string) error {
	c := call{method: r.Method(OpClose), retry: IsChannelFailure, ref: channelNo}
	_, err := do(ctx, r, c, func(ctx context.Context) (*struct{}, error) { return &struct{}{}, r.inner.Close(ctx, channelNo) })
	return err
}

// Refund is always sent and retried on channel failures with the same
// request number, which the channel refunds at most once.
func (r *ResilientChannel) Refund(ctx context.Context, req RefundRequest) (*RefundResult, error) {
	c := call{method: r.Method(OpRefund), retry: IsChannelFailure, ref: req.ChannelNo}
	return do(ctx, r, c, func(ctx context.Context) (*RefundResult, error) { return r.inner.Refund(ctx, req) })
}

// RefundQuery is always sent and retried on channel failures.
func (r *ResilientChannel) RefundQuery(ctx context.Context, ref RefundRef) (*RefundResult, error) {
	c := call{method: r.Method(OpRefundQuery), retry: IsChannelFailure, ref: ref.ChannelNo}
	return do(ctx, r, c, func(ctx context.Context) (*RefundResult, error) { return r.inner.RefundQuery(ctx, ref) })
}

// ParseNotification is local work: no breaker, no retry.
func (r *ResilientChannel) ParseNotification(in NotificationInput) (*Notification, error) {
	return r.inner.ParseNotification(in)
}

// closeNotSent closes a barcode order whose pay was never sent (the circuit
// was open) and returns err, the merchant's 503. Nobody was charged, no trade
// exists for its channel number, and that number is never sent again (a
// repeated create does not pay again), so nothing is left to settle and no
// query is owed: it is the one close without the channel's word, because the
// channel never heard of the order. (A QR order in the same case stays
// pending instead: a repeat of the create precreates it once the channel is
// back; see precreate.)
func (s *Service) closeNotSent(ctx context.Context, o *paygate.Order, err error) error {
	s.log.WarnContext(ctx, "channel unavailable: barcode order closed without being sent", "out_trade_no", o.OutTradeNo,
		"channel_no", o.ChannelNo, "merchant_id", o.MerchantID)
	if _, cerr := s.markClosed(ctx, o.ID, ""); cerr != nil {
		// Still pending: compensation finds no trade and cancels it.
		s.log.ErrorContext(ctx, "closing an unsent barcode order failed", "out_trade_no", o.OutTradeNo, "err", cerr)
	}
	return err
}
