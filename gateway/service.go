// Package gateway holds paygate's use cases: creating orders and taking them
// to the channel, the barcode wait-poll-cancel loop, closing, refunding, and
// applying what the channel reports. It implements paygate.OrderService on a
// paygate.Store and an Alipay channel.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
)

// Channel is the part of the Alipay client the use cases need; *alipay.Client
// implements it.
type Channel interface {
	AppID() string
	Precreate(ctx context.Context, req alipay.PrecreateRequest) (*alipay.PrecreateResponse, error)
	Pay(ctx context.Context, req alipay.PayRequest) (*alipay.PayResponse, error)
	Query(ctx context.Context, ref alipay.TradeRef) (*alipay.QueryResponse, error)
	Cancel(ctx context.Context, ref alipay.TradeRef) (*alipay.CancelResponse, error)
	Close(ctx context.Context, req alipay.CloseRequest) (*alipay.CloseResponse, error)
	Refund(ctx context.Context, req alipay.RefundRequest) (*alipay.RefundResponse, error)
	RefundQuery(ctx context.Context, req alipay.RefundQueryRequest) (*alipay.RefundQueryResponse, error)
	ParseNotification(form url.Values) (*alipay.Notification, error)
}

// Config wires a Service.
type Config struct {
	Store   paygate.Store
	Channel Channel
	Logger  *slog.Logger
	Now     func() time.Time
	// NotifyURL is where Alipay sends notifications: this gateway's
	// /notify/alipay as the channel reaches it.
	NotifyURL string
	// SellerID, when set, must match every notification's seller_id.
	SellerID string
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
	cfg   Config
	log   *slog.Logger
	group *groupCommit // notifications' order updates, committed in groups
}

var _ paygate.OrderService = (*Service)(nil)

// New checks cfg, fills defaults and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Channel == nil {
		return nil, errors.New("gateway: store and channel are required")
	}
	if cfg.NotifyURL == "" {
		return nil, errors.New("gateway: notify URL is required")
	}
	if err := alipay.CheckNotifyURL(cfg.NotifyURL); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
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
	return &Service{cfg: cfg, log: cfg.Logger, group: &groupCommit{store: cfg.Store}}, nil
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
// sees: a business refusal names Alipay's sub_code; anything else is 502.
func channelError(what string, err error) error {
	var e *alipay.Error
	if errors.As(err, &e) && e.Outcome == alipay.OutcomeFailed {
		return paygate.Errorf(paygate.EPaymentFailed, "%s: the channel refused: %s (%s)", what, e.SubMsg, e.SubCode)
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
