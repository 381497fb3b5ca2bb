package paygate

import (
	"context"
	"time"
)

// Merchant is a shop that calls the API. AccessKey identifies it in requests;
// SecretKey signs them; WebhookSecret signs what paygate sends it. Both
// secrets are encrypted at rest (see Sealer) and never logged.
//
// A rotation keeps the replaced secret as PreviousSecretKey (or
// PreviousWebhookSecret) until a grace period ends, so that a shop can
// switch without a moment in which nothing it holds works: SecretKeys and
// WebhookSecrets say which are valid at a given time.
type Merchant struct {
	ID            int64
	Name          string
	AccessKey     string
	SecretKey     string
	WebhookSecret string
	NotifyURL     string // default webhook URL for its orders
	CreatedAt     time.Time
	// UpdatedAt is when it last changed: created, rotated, disabled,
	// enabled or given a URL.
	UpdatedAt time.Time
	// DisabledAt is when an operator disabled it; zero while it is enabled.
	// A disabled merchant's API requests are refused; the orders it placed
	// before still settle and their webhooks still go out.
	DisabledAt time.Time
	// PreviousSecretKey is the secret key before the last rotation, still
	// accepted until PreviousSecretUntil; empty when there is none.
	PreviousSecretKey   string
	PreviousSecretUntil time.Time
	// PreviousWebhookSecret likewise signs deliveries beside WebhookSecret
	// until PreviousWebhookSecretUntil; empty when there is none.
	PreviousWebhookSecret      string
	PreviousWebhookSecretUntil time.Time
}

// String omits the secrets, so a merchant printed by accident leaks nothing.
func (m *Merchant) String() string {
	return "merchant " + m.Name + " (" + m.AccessKey + ")"
}

// Disabled reports whether an operator disabled the merchant.
func (m *Merchant) Disabled() bool { return !m.DisabledAt.IsZero() }

// SecretKeys are the secret keys a request signed at now may use: the
// current one first, then the previous one while its grace period lasts.
func (m *Merchant) SecretKeys(now time.Time) []string {
	return validSecrets(m.SecretKey, m.PreviousSecretKey, m.PreviousSecretUntil, now)
}

// WebhookSecrets are the secrets a delivery made at now is signed with: the
// current one first, then the previous one while its grace period lasts, so
// a receiver that holds either can verify it.
func (m *Merchant) WebhookSecrets(now time.Time) []string {
	return validSecrets(m.WebhookSecret, m.PreviousWebhookSecret, m.PreviousWebhookSecretUntil, now)
}

func validSecrets(current, previous string, until, now time.Time) []string {
	if previous != "" && now.Before(until) {
		return []string{current, previous}
	}
	return []string{current}
}

// MerchantFilter pages merchants, newest first.
type MerchantFilter struct {
	Limit    int   // 0: 100; at most 500
	BeforeID int64 // cursor: only merchants with a smaller ID; 0: from the newest
}

// MerchantSummary is a merchant as an operator lists it: its row without
// the secrets (SecretKey, WebhookSecret and the previous ones are empty) and
// its webhook backlog.
type MerchantSummary struct {
	Merchant *Merchant
	// PendingEvents are events neither delivered nor dead-lettered: being
	// delivered or waiting for a retry.
	PendingEvents int64
	// DeadEvents are events delivery gave up on (dead-lettered), waiting
	// for a re-send.
	DeadEvents int64
}

// DeadLetterReason is one reason a merchant's events are dead-lettered:
// what their last attempt recorded, and how many share it.
type DeadLetterReason struct {
	// Excerpt is the last attempt's excerpt: why nothing was sent (such
	// as "no webhook URL configured") or the response's first bytes.
	Excerpt    string
	StatusCode int  // the last attempt's HTTP status; 0 when none came
	NoURL      bool // the last attempt had no URL to go to
	Count      int64
	Latest     time.Time // the newest such event's creation
}

// SecretRotation replaces a merchant's secrets. An empty new secret leaves
// that secret as it is. The replaced secret is kept as the previous one
// until its GraceUntil; a GraceUntil not after At drops it at once (and so
// does any rotation drop the secret that was previous before it).
type SecretRotation struct {
	SecretKey               string
	SecretKeyGraceUntil     time.Time
	WebhookSecret           string
	WebhookSecretGraceUntil time.Time
	At                      time.Time // the merchant's UpdatedAt; zero: now
	// IfUpdatedAt, when set, makes the rotation conditional: it happens
	// only if the merchant's UpdatedAt is still this (to the microsecond),
	// else it is EConflict and nothing changes. A confirmation sent twice
	// at once then rotates once: a second rotation would end the grace of
	// the secret the first one kept.
	IfUpdatedAt time.Time
}

// MerchantAdmin is the operator's side of merchants. It is part of Store.
// Every method that changes a merchant sets its UpdatedAt and returns it as
// it now is, secrets opened; an unknown merchant is ENotFound.
type MerchantAdmin interface {
	// ListMerchants pages merchants newest first (by ID), with their
	// webhook backlog.
	ListMerchants(ctx context.Context, f MerchantFilter) ([]*MerchantSummary, error)
	// MerchantSummary is one merchant as ListMerchants shows it.
	MerchantSummary(ctx context.Context, merchantID int64) (*MerchantSummary, error)
	// DeadLetterReasons groups the merchant's dead-lettered events by what
	// their last attempt recorded, the most frequent first, at most limit
	// groups (0: 10).
	DeadLetterReasons(ctx context.Context, merchantID int64, limit int) ([]*DeadLetterReason, error)
	// RotateMerchantSecrets replaces secrets as r says, in one
	// transaction: the replaced ones become the previous ones.
	RotateMerchantSecrets(ctx context.Context, merchantID int64, r SecretRotation) (*Merchant, error)
	// SetMerchantDisabled disables the merchant at at (keeping the first
	// DisabledAt if it already was) or, disabled false, enables it.
	SetMerchantDisabled(ctx context.Context, merchantID int64, disabled bool, at time.Time) (*Merchant, error)
	// SetMerchantNotifyURL sets the merchant's webhook URL; "" clears it.
	// The URL is stored as given: callers check it (CheckWebhookURL).
	SetMerchantNotifyURL(ctx context.Context, merchantID int64, url string, at time.Time) (*Merchant, error)
	// UnroutedDeadEvents lists the IDs of the merchant's dead-lettered
	// events created at or after since whose last attempt had no URL to go
	// to, oldest first, at most limit: the events a URL set now would have
	// carried.
	UnroutedDeadEvents(ctx context.Context, merchantID int64, since time.Time, limit int) ([]string, error)
}
