// Package gateway holds paygate's use cases: creating orders and taking them
// to the channel, the barcode wait-poll-cancel loop, closing, refunding, and
// applying what the channel reports. It implements paygate.OrderService on a
// paygate.Store and one or more payment channels (Channel: Alipay, WeChat
// Pay), which it speaks to only through that neutral interface.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/paygate/paygate"
)

// Config wires a Service.
type Config struct {
	Store paygate.Store
	// Channels are the payment channels orders are taken on, at most one
	// of each name (alipay, wechat); at least one. An order names its
	// channel; one stored before orders had one is Alipay's.
	Channels []Channel
	Logger   *slog.Logger
	Now      func() time.Time
	// PublicURL is how buyers reach this gateway (server.public_url): a QR
	// order's webhooks carry cashier_url = PublicURL + "/pay/" + token.
	// Empty: no cashier_url.
	PublicURL string
	// DefaultTimeout is how long a buyer has to pay when the merchant does
	// not say; default 2 h.
	DefaultTimeout time.Duration
	// CallTimeout bounds each call to the channel; default 15 s.
	CallTimeout time.Duration
	// PollInterval and PollTimeout drive the barcode wait (§6): query every
	// PollInterval while the buyer confirms, for at most PollTimeout, then
	// cancel. Defaults 3 s and 30 s.
	PollInterval time.Duration
	PollTimeout  time.Duration
	// CancelAttempts bounds cancel retries while Alipay answers retry_flag=Y
	// or nothing; CancelInterval spaces them. Defaults 5 and 2 s.
	CancelAttempts int
	CancelInterval time.Duration
	// Sleep waits between polls; tests may shorten time. Default: a timer
	// that stops on ctx.Done().
	Sleep func(ctx context.Context, d time.Duration) error
	// Jobs, when set, receives the follow-up work of every change in the
	// same transaction: webhook deliveries, compensation of pending orders,
	// resolution of unknown refunds. Without it nothing runs in the
	// background (a single process that only serves requests).
	Jobs paygate.JobQueue
	// CompensateAfter is how long a pending order may go without news before
	// the channel is asked; CompensateInterval the first pause between later
	// questions, growing up to 10 times. Defaults 1 min and 30 s.
	CompensateAfter    time.Duration
	CompensateInterval time.Duration
	// LatePayment is the policy for money that arrives for a closed order;
	// default LateRefund.
	LatePayment LatePaymentPolicy
	// Observer receives counts for alerting; may be nil.
	Observer Observer
	// Activity, when set, receives every channel call made for an order
	// and every notification that names one, for the operator's timeline
	// (see ActivityRecorder and ActivityLog); nil records nothing.
	Activity ActivityRecorder
}

// Service implements paygate.OrderService.
type Service struct {
	cfg      Config
	log      *slog.Logger
	group    *groupCommit       // notifications' order updates, committed in groups
	channels map[string]Channel // by Name
}

var _ paygate.OrderService = (*Service)(nil)

// New checks cfg, fills defaults and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || len(cfg.Channels) == 0 {
		return nil, errors.New("gateway: a store and at least one channel are required")
	}
	channels := make(map[string]Channel, len(cfg.Channels))
	for _, ch := range cfg.Channels {
		name := ch.Name()
		if name != string(paygate.ChannelAlipay) && name != string(paygate.ChannelWechat) {
			return nil, fmt.Errorf("gateway: channel %q is not alipay or wechat", name)
		}
		if channels[name] != nil {
			return nil, fmt.Errorf("gateway: channel %s is configured twice", name)
		}
		channels[name] = ch
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	setDefault(&cfg.DefaultTimeout, 2*time.Hour)
	setDefault(&cfg.CallTimeout, 15*time.Second)
	setDefault(&cfg.PollInterval, 3*time.Second)
	setDefault(&cfg.PollTimeout, 30*time.Second)
	setDefault(&cfg.CancelInterval, 2*time.Second)
	setDefault(&cfg.CompensateAfter, time.Minute)
	setDefault(&cfg.CompensateInterval, 30*time.Second)
	switch cfg.LatePayment {
	case "":
		cfg.LatePayment = LateRefund
	case LateRefund, LateReport:
	default:
		return nil, fmt.Errorf("gateway: late payment policy %q is not refund or report", cfg.LatePayment)
	}
	if cfg.CancelAttempts <= 0 {
		cfg.CancelAttempts = 5
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	return &Service{cfg: cfg, log: cfg.Logger, group: &groupCommit{store: cfg.Store}, channels: channels}, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// callCtx bounds one channel call.
func (s *Service) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.CallTimeout)
}

// channelError turns a channel failure into the domain error the merchant
// sees: a business refusal names the channel's code; anything else is 502.
func channelError(what string, err error) error {
	var e *ChannelError
	if errors.As(err, &e) && e.Outcome == OutcomeFailed {
		return paygate.Errorf(paygate.EPaymentFailed, "%s: the channel refused: %s (%s)", what, e.Message, refusalCode(e.Code))
	}
	return paygate.Errorf(paygate.EChannel, "%s: the channel did not answer clearly; the outcome will be settled by query", what)
}

// enqueue hands job to the queue inside tx, when there is one.
func (s *Service) enqueue(ctx context.Context, tx paygate.StoreTx, job paygate.Job) error {
	if s.cfg.Jobs == nil {
		return nil
	}
	return s.cfg.Jobs.Enqueue(ctx, tx, job)
}

// refusalCode is the most specific part of a timeline code: Alipay's
// sub_code of "40004/ACQ.X", or the code itself.
func refusalCode(code string) string {
	if i := strings.LastIndexByte(code, '/'); i >= 0 {
		return code[i+1:]
	}
	return code
}

// Channel returns the configured channel of that name, or nil.
func (s *Service) Channel(name string) Channel { return s.channels[name] }

// channelOf is the channel an order is taken on: its own, Alipay for an
// order stored before orders named one. nil when that channel is not
// configured on this node.
func (s *Service) channelOf(name paygate.Channel) Channel {
	if name == "" {
		name = paygate.ChannelAlipay
	}
	return s.channels[string(name)]
}
