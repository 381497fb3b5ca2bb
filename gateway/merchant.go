package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/paygate/paygate"
)

// Rules of merchant administration.
const (
	// DefaultGrace is how long a replaced secret keeps working after a
	// rotation unless the operator says otherwise: a day for the shop to
	// deploy the new one.
	DefaultGrace = 24 * time.Hour
	// MaxGrace bounds a grace period: an old secret that works for months
	// is not rotated.
	MaxGrace = 30 * 24 * time.Hour
	// ResendWindow is how far back SetNotifyURL looks for events that were
	// dead-lettered for want of a URL: as long as the retry schedule of an
	// event that had one (at least 24 h).
	ResendWindow = 24 * time.Hour
	// MaxResend bounds the events one SetNotifyURL re-sends.
	MaxResend = 1000
	// MaxMerchantName and MaxNotifyURL bound what is stored.
	MaxMerchantName = 200
	MaxNotifyURL    = 256
)

// Merchants is merchant administration with its rules: create, list, show,
// rotate secrets with a grace period, disable and enable, set the webhook
// URL. The CLI (paygate merchant) and the operator console both use it, so
// they apply the same checks. Each change is committed before it returns;
// bad input is EInvalid and an unknown access key ENotFound, and neither
// changes anything. Merchants it returns carry no secrets except where a
// method says so.
type Merchants struct {
	Store paygate.Store
	// Jobs enqueues the deliveries SetNotifyURL re-sends; nil re-sends
	// nothing.
	Jobs paygate.JobQueue
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Changed is told a merchant's access key once a change of it has
	// committed, so that a cache in this process forgets it at once
	// (httpapi.Server.ForgetMerchant); may be nil. Other processes see the
	// change within their cache's lifetime (auth.merchant_cache_ttl).
	Changed func(accessKey string)
}

// Credentials are a new merchant's, handed over once.
type Credentials struct {
	Merchant      *paygate.Merchant // without secrets
	SecretKey     string
	WebhookSecret string
}

// Create makes a merchant with fresh random credentials: an access key
// "ak_" + 24 hex digits, a secret key "sk_" + 64 and a webhook secret
// "whsec_" + 64, from crypto/rand. notifyURL may be empty.
func (s *Merchants) Create(ctx context.Context, name, notifyURL string) (*Credentials, error) {
	name = strings.TrimSpace(name)
	if err := checkMerchantName(name); err != nil {
		return nil, err
	}
	if err := CheckMerchantURL(notifyURL); err != nil {
		return nil, err
	}
	m := &paygate.Merchant{Name: name, AccessKey: "ak_" + randomHex(12), SecretKey: newSecretKey(),
		WebhookSecret: newWebhookSecret(), NotifyURL: notifyURL, CreatedAt: s.now()}
	if err := s.Store.CreateMerchant(ctx, m); err != nil {
		return nil, fmt.Errorf("create merchant: %w", err)
	}
	return &Credentials{Merchant: withoutSecrets(m), SecretKey: m.SecretKey, WebhookSecret: m.WebhookSecret}, nil
}

// List pages merchants newest first, with their webhook backlog.
func (s *Merchants) List(ctx context.Context, f paygate.MerchantFilter) ([]*paygate.MerchantSummary, error) {
	if f.Limit < 0 || f.Limit > 500 {
		return nil, paygate.Errorf(paygate.EInvalid, "the limit must be from 1 to 500")
	}
	return s.Store.ListMerchants(ctx, f)
}

// MerchantDetail is one merchant as an operator inspects it.
type MerchantDetail struct {
	*paygate.MerchantSummary
	// DeadLetters says why its dead-lettered events are, the most
	// frequent reason first.
	DeadLetters []*paygate.DeadLetterReason
}

// Show is one merchant with its backlog and why its events are
// dead-lettered.
func (s *Merchants) Show(ctx context.Context, accessKey string) (*MerchantDetail, error) {
	m, err := s.lookup(ctx, accessKey)
	if err != nil {
		return nil, err
	}
	sum, err := s.Store.MerchantSummary(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	d := &MerchantDetail{MerchantSummary: sum}
	if sum.DeadEvents > 0 {
		if d.DeadLetters, err = s.Store.DeadLetterReasons(ctx, m.ID, 5); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Rotate says which secrets to replace and how long the replaced ones keep
// working (0: not at all).
type Rotate struct {
	SecretKey     bool
	WebhookSecret bool
	Grace         time.Duration
	// IfUpdatedAt, when set, is the merchant's UpdatedAt as the operator
	// saw it: the rotation happens only if it is still so, else EConflict
	// (see paygate.SecretRotation.IfUpdatedAt).
	IfUpdatedAt time.Time
}

// Rotation is what a rotation did. The new secrets are handed over once.
type Rotation struct {
	Merchant *paygate.Merchant // as it now is, without secrets
	// SecretKey and WebhookSecret are the new secrets; "" for one not
	// rotated.
	SecretKey     string
	WebhookSecret string
	// GraceUntil is when the replaced secrets stop working; zero when
	// they stopped at once.
	GraceUntil time.Time
	// Dropped names the previous secrets, still in their grace, that this
	// rotation ended ("secret key", "webhook secret"): a shop still on
	// them is cut off now.
	Dropped []string
}

// Rotate replaces the merchant's secret key, webhook secret or both in one
// transaction; each replaced secret keeps working for r.Grace.
func (s *Merchants) Rotate(ctx context.Context, accessKey string, r Rotate) (*Rotation, error) {
	if !r.SecretKey && !r.WebhookSecret {
		return nil, paygate.Errorf(paygate.EInvalid, "say which secret to rotate: the secret key, the webhook secret or both")
	}
	if r.Grace < 0 || r.Grace > MaxGrace {
		return nil, paygate.Errorf(paygate.EInvalid, "the grace period must be from 0 to %s", MaxGrace)
	}
	m, err := s.lookup(ctx, accessKey)
	if err != nil {
		return nil, err
	}
	now := s.now()
	rot := paygate.SecretRotation{At: now, IfUpdatedAt: r.IfUpdatedAt}
	out := &Rotation{}
	if r.Grace > 0 {
		out.GraceUntil = now.Add(r.Grace)
	}
	if r.SecretKey {
		out.SecretKey = newSecretKey()
		rot.SecretKey, rot.SecretKeyGraceUntil = out.SecretKey, out.GraceUntil
		if len(m.SecretKeys(now)) > 1 {
			out.Dropped = append(out.Dropped, "secret key")
		}
	}
	if r.WebhookSecret {
		out.WebhookSecret = newWebhookSecret()
		rot.WebhookSecret, rot.WebhookSecretGraceUntil = out.WebhookSecret, out.GraceUntil
		if len(m.WebhookSecrets(now)) > 1 {
			out.Dropped = append(out.Dropped, "webhook secret")
		}
	}
	updated, err := s.Store.RotateMerchantSecrets(ctx, m.ID, rot)
	if err != nil {
		return nil, fmt.Errorf("rotate secrets of %s: %w", accessKey, err)
	}
	s.changed(accessKey)
	out.Merchant = withoutSecrets(updated)
	return out, nil
}

// Disable refuses the merchant's API requests from now on (within the
// cache lifetime of other processes). Its accepted orders still settle and
// their webhooks still go out. Disabling a disabled merchant keeps when it
// was first disabled.
func (s *Merchants) Disable(ctx context.Context, accessKey string) (*paygate.Merchant, error) {
	return s.setDisabled(ctx, accessKey, true)
}

// Enable undoes Disable.
func (s *Merchants) Enable(ctx context.Context, accessKey string) (*paygate.Merchant, error) {
	return s.setDisabled(ctx, accessKey, false)
}

func (s *Merchants) setDisabled(ctx context.Context, accessKey string, disabled bool) (*paygate.Merchant, error) {
	m, err := s.lookup(ctx, accessKey)
	if err != nil {
		return nil, err
	}
	updated, err := s.Store.SetMerchantDisabled(ctx, m.ID, disabled, s.now())
	if err != nil {
		return nil, fmt.Errorf("disable %s: %w", accessKey, err)
	}
	s.changed(accessKey)
	return withoutSecrets(updated), nil
}

// URLChange is what SetNotifyURL did.
type URLChange struct {
	Merchant *paygate.Merchant // as it now is, without secrets
	Previous string            // the URL before
	// Resent are the events re-sent to the new URL: those dead-lettered
	// for want of a URL within ResendWindow.
	Resent []string
}

// SetNotifyURL sets the merchant's webhook URL (checked with
// CheckMerchantURL); "" clears it. With resend, the events dead-lettered
// for want of a URL within ResendWindow (at most MaxResend) are revived and
// queued for the new URL, in one transaction after the URL is set. If that
// fails, the URL stays set and the error says so; calling again re-sends
// them.
func (s *Merchants) SetNotifyURL(ctx context.Context, accessKey, url string, resend bool) (*URLChange, error) {
	if err := CheckMerchantURL(url); err != nil {
		return nil, err
	}
	m, err := s.lookup(ctx, accessKey)
	if err != nil {
		return nil, err
	}
	now := s.now()
	updated, err := s.Store.SetMerchantNotifyURL(ctx, m.ID, url, now)
	if err != nil {
		return nil, fmt.Errorf("set the URL of %s: %w", accessKey, err)
	}
	s.changed(accessKey)
	ch := &URLChange{Merchant: withoutSecrets(updated), Previous: m.NotifyURL, Resent: []string{}}
	if url == "" || !resend || s.Jobs == nil {
		return ch, nil
	}
	ids, err := s.Store.UnroutedDeadEvents(ctx, m.ID, now.Add(-ResendWindow), MaxResend)
	if err == nil && len(ids) > 0 {
		err = s.Store.Tx(ctx, func(tx paygate.StoreTx) error {
			wt, ok := tx.(paygate.WebhookTx)
			if !ok {
				return fmt.Errorf("%T cannot revive events", tx)
			}
			for _, id := range ids {
				if err := wt.ReviveEvent(ctx, id); err != nil {
					return err
				}
				if err := s.Jobs.Enqueue(ctx, tx, paygate.Job{Kind: paygate.JobDeliverEvent, EventID: id}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		return ch, fmt.Errorf("the URL is set, but re-sending the events dead-lettered without one failed (set it again to retry): %w", err)
	}
	ch.Resent = ids
	return ch, nil
}

// CheckMerchantURL refuses a merchant webhook URL that paygate would not
// store: longer than MaxNotifyURL bytes, or refused by
// paygate.CheckWebhookURL. "" (no URL) passes. Its EInvalid messages never
// repeat the URL, which may hold a token.
func CheckMerchantURL(url string) error {
	if url == "" {
		return nil
	}
	if len(url) > MaxNotifyURL {
		return paygate.Errorf(paygate.EInvalid, "the webhook URL must be at most %d bytes", MaxNotifyURL)
	}
	return paygate.CheckWebhookURL(url)
}

func checkMerchantName(name string) error {
	switch {
	case name == "":
		return paygate.Errorf(paygate.EInvalid, "the merchant's name is required")
	case len(name) > MaxMerchantName || !utf8.ValidString(name):
		return paygate.Errorf(paygate.EInvalid, "the merchant's name must be valid UTF-8 of at most %d bytes", MaxMerchantName)
	case strings.ContainsFunc(name, unicode.IsControl):
		return paygate.Errorf(paygate.EInvalid, "the merchant's name must not hold control characters")
	}
	return nil
}

// lookup is the merchant with accessKey; ENotFound names the key.
func (s *Merchants) lookup(ctx context.Context, accessKey string) (*paygate.Merchant, error) {
	if accessKey == "" {
		return nil, paygate.Errorf(paygate.EInvalid, "an access key is required")
	}
	m, err := s.Store.MerchantByAccessKey(ctx, accessKey)
	if paygate.ErrorCode(err) == paygate.ENotFound {
		return nil, paygate.Errorf(paygate.ENotFound, "no merchant has the access key %s", accessKey)
	}
	return m, err
}

func (s *Merchants) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Merchants) changed(accessKey string) {
	if s.Changed != nil {
		s.Changed(accessKey)
	}
}

// withoutSecrets is a copy of m with every secret cleared.
func withoutSecrets(m *paygate.Merchant) *paygate.Merchant {
	c := *m
	c.SecretKey, c.WebhookSecret, c.PreviousSecretKey, c.PreviousWebhookSecret = "", "", "", ""
	return &c
}

func newSecretKey() string     { return "sk_" + randomHex(32) }
func newWebhookSecret() string { return "whsec_" + randomHex(32) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return hex.EncodeToString(b)
}
