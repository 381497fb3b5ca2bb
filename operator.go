package paygate

import (
	"context"
	"strings"
	"time"
)

// Role is what an operator of the console may do.
type Role string

// Operator roles. A viewer reads everything; an admin also performs money
// actions (refresh, close, refund, re-send).
const (
	RoleViewer Role = "viewer"
	RoleAdmin  Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleViewer || r == RoleAdmin }

// Operator is a person who logs in to the console. PasswordHash is a PHC
// string (argon2id); the password itself is never stored.
type Operator struct {
	ID           int64
	Username     string
	PasswordHash string
	Role         Role
	DisabledAt   time.Time // zero while enabled
	// FailedLogins counts consecutive failed logins since the last success
	// or lockout; LockedUntil refuses every login until then.
	FailedLogins int
	LockedUntil  time.Time
	// SessionsValidAfter: a session issued before it is refused. Changing
	// the password or disabling the operator moves it to now, which ends
	// every session at once.
	SessionsValidAfter time.Time
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// String omits the password hash.
func (o *Operator) String() string { return "operator " + o.Username + " (" + string(o.Role) + ")" }

// Disabled reports whether the operator may no longer log in.
func (o *Operator) Disabled() bool { return !o.DisabledAt.IsZero() }

// Locked reports whether logins are refused at now for too many failures.
func (o *Operator) Locked(now time.Time) bool { return now.Before(o.LockedUntil) }

// CheckUsername refuses a username that is not 1 to 64 of lower-case
// letters, digits, '.', '_' and '-' (starting with a letter or digit), with
// an EInvalid error saying so. Usernames are case-sensitive as stored; the
// console lower-cases what is typed.
func CheckUsername(u string) error {
	if len(u) == 0 || len(u) > 64 || strings.Trim(u, "abcdefghijklmnopqrstuvwxyz0123456789._-") != "" ||
		strings.ContainsAny(u[:1], "._-") {
		return Errorf(EInvalid, "a username is 1 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit")
	}
	return nil
}

// Operator action names: what an operator did, as operator_actions records it.
const (
	ActionRefresh = "order.refresh"
	ActionClose   = "order.close"
	ActionRefund  = "order.refund"
	ActionResend  = "event.resend"
)

// Operator action outcomes. An action is recorded twice: its intent
// (OutcomeRequested) before it runs, and what came of it after.
const (
	OutcomeRequested = "requested"
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"  // refused (declined, conflict, invalid)
	OutcomeUnclear   = "unclear" // the channel's answer was unclear; settled later
)

// OperatorAction is one audit record of what an operator did: who, when,
// on what, and how it ended. Records are only ever appended.
type OperatorAction struct {
	ID         int64
	At         time.Time
	Operator   string // the operator's username
	Action     string // ActionRefund, ...
	OrderID    int64  // 0: none
	MerchantID int64  // 0: none
	Target     string // what it acted on, e.g. an out_request_no or an event id
	Detail     string // a short human sentence: the amount, the error, ...
	Outcome    string
}

// OperatorActionFilter selects audit records, newest first. OrderID or
// MerchantID (not zero) scope them; both zero lists the latest of all.
type OperatorActionFilter struct {
	OrderID    int64
	MerchantID int64
	BeforeID   int64 // cursor: only records with a smaller ID
	Limit      int   // 0: 50; at most 500
}

// OrderSearch selects orders across merchants for the operator, newest
// (highest ID) first. Every field is optional.
type OrderSearch struct {
	MerchantID int64 // 0: every merchant
	OutTradeNo string
	TradeNo    string
	Status     OrderStatus
	From, To   time.Time // created in [From, To); zero: unbounded
	BeforeID   int64     // cursor: only orders with a smaller ID
	Limit      int       // 0: 20; at most 101
}

// OperatorStore keeps operators, their audit trail and the session
// revocation list, and gives the operator's cross-merchant view of orders.
// It is part of Store.
type OperatorStore interface {
	// CreateOperator inserts o and sets its ID; EConflict for a taken
	// username, EInvalid for a role the schema refuses.
	CreateOperator(ctx context.Context, o *Operator) error
	// OperatorByUsername returns the operator; ENotFound if none.
	OperatorByUsername(ctx context.Context, username string) (*Operator, error)
	// ListOperators lists every operator by username.
	ListOperators(ctx context.Context) ([]*Operator, error)
	// UpdateOperator writes o's PasswordHash, Role, DisabledAt,
	// FailedLogins, LockedUntil, SessionsValidAfter and UpdatedAt;
	// ENotFound if it does not exist.
	UpdateOperator(ctx context.Context, o *Operator) error
	// RecordLoginFailure counts a failed login of the operator atomically
	// (replicas may race): at the limit-th consecutive failure the count
	// starts again from zero and LockedUntil becomes at+lock. It returns
	// the operator as it now is.
	RecordLoginFailure(ctx context.Context, id int64, at time.Time, limit int, lock time.Duration) (*Operator, error)
	// ResetLoginFailures clears the count of failed logins after a success.
	ResetLoginFailures(ctx context.Context, id int64) error

	// RecordOperatorAction appends a (setting its ID and, when zero, At).
	RecordOperatorAction(ctx context.Context, a *OperatorAction) error
	// OperatorActions lists records as f selects them, newest first.
	OperatorActions(ctx context.Context, f OperatorActionFilter) ([]*OperatorAction, error)

	// RevokeSession refuses the session jti until until (its expiry);
	// revoking it again is no error.
	RevokeSession(ctx context.Context, jti string, until time.Time) error
	// SessionRevoked reports whether jti was revoked (and its revocation
	// not purged).
	SessionRevoked(ctx context.Context, jti string) (bool, error)
	// PurgeRevokedSessions forgets revocations that ended before before:
	// their sessions have expired anyway. It returns how many.
	PurgeRevokedSessions(ctx context.Context, before time.Time) (int64, error)

	// OrderByID returns any merchant's order; ENotFound if none.
	OrderByID(ctx context.Context, id int64) (*Order, error)
	// SearchOrders returns the orders s selects across merchants, newest
	// first; the ID of the last one is the cursor for the next page.
	SearchOrders(ctx context.Context, s OrderSearch) ([]*Order, error)
}

// SessionRevocations is the console's list of sessions ended before their
// expiry (logouts). In Redis when configured, so replicas share it, else in
// the store.
type SessionRevocations interface {
	// Revoke refuses session jti until until.
	Revoke(ctx context.Context, jti string, until time.Time) error
	// Revoked reports whether jti was revoked. An error means nothing is
	// known: the caller must refuse the session.
	Revoked(ctx context.Context, jti string) (bool, error)
}

// ActionLimit is the page size OperatorActions uses for a requested
// OperatorActionFilter.Limit: 0 means 50; it is clamped to [1, 500].
func ActionLimit(n int) int {
	switch {
	case n == 0:
		return 50
	case n < 1:
		return 1
	case n > 500:
		return 500
	}
	return n
}
