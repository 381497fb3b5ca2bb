// Package faultstore wraps a real paygate.Store so that chosen calls fail
// as they would if the database connection died: before the call reaches
// the database (it never happens) or after it (it happened, and for a
// transaction's commit it committed, but the answer was lost). Every call is
// counted, store and transaction methods and the commit itself, so a test
// can run a scenario once to count its calls and then fail each in turn.
// It is test support: it holds no secrets and logs nothing.
package faultstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/paygate/paygate"
)

// When says whether and how a call fails.
type When uint8

// The fault kinds.
const (
	// None lets the call through.
	None When = iota
	// Before fails the call without making it: the connection was reset
	// before the request was written. Inside a transaction the caller sees
	// the error; at the commit the transaction is rolled back.
	Before
	// After makes the call, then fails it: the answer was lost (unexpected
	// EOF). At the commit the transaction is committed, yet the caller is told
	// it failed.
	After
)

func (w When) String() string {
	switch w {
	case Before:
		return "before"
	case After:
		return "after"
	}
	return "none"
}

// Call is one counted call.
type Call struct {
	N      int    // 1 for the first call since New or Reset
	Method string // "OrderByOutTradeNo", "Tx", "Tx.UpdateOrder", "Tx.commit", ...
	InTx   bool   // made inside a transaction (Tx.…)
}

func (c Call) String() string { return fmt.Sprintf("#%d %s", c.N, c.Method) }

// ErrInjected is in the chain of every error this package injects.
var ErrInjected = errors.New("faultstore: injected fault")

// Error is an injected fault. It wraps a *net.OpError like the one a
// database driver returns for a dead connection, so code that classifies
// errors sees a realistic one, and ErrInjected.
type Error struct {
	Call Call
	When When
	Err  error // the *net.OpError
}

func (e *Error) Error() string {
	return fmt.Sprintf("faultstore: injected fault %s call %s: %v", e.When, e.Call, e.Err)
}

// Unwrap returns the network error and ErrInjected.
func (e *Error) Unwrap() []error { return []error{e.Err, ErrInjected} }

func newError(c Call, w When) error {
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5432}
	var op *net.OpError
	if w == Before {
		op = &net.OpError{Op: "write", Net: "tcp", Addr: addr, Err: os.NewSyscallError("write", syscall.ECONNRESET)}
	} else {
		op = &net.OpError{Op: "read", Net: "tcp", Addr: addr, Err: io.ErrUnexpectedEOF}
	}
	return &Error{Call: c, When: w, Err: op}
}

// FailAt is a plan that fails call n in way w and lets every other through.
func FailAt(n int, w When) func(Call) When {
	return func(c Call) When {
		if c.N == n {
			return w
		}
		return None
	}
}

// Store is a paygate.Store that counts calls and fails those its plan
// picks. It is safe for concurrent use, but the call numbers and the hook
// are only meaningful when one goroutine uses it at a time.
type Store struct {
	inner paygate.Store

	mu       sync.Mutex
	n        int
	injected int
	plan     func(Call) When
	hook     func(Call)
	inHook   bool
	txDepth  int
}

var _ paygate.Store = (*Store)(nil)

// New wraps inner with no plan: every call goes through and is counted.
func New(inner paygate.Store) *Store { return &Store{inner: inner} }

// SetPlan decides every later call's fault; nil injects nothing.
func (s *Store) SetPlan(plan func(Call) When) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.plan = plan
}

// OnCall sets fn to run before every call made outside a transaction (never
// inside one, so fn may use the store, or anything that does, without
// waiting on the transaction's locks). Calls fn makes are counted but do not
// run fn again. nil removes it.
func (s *Store) OnCall(fn func(Call)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = fn
}

// Calls is how many calls were counted since New or Reset.
func (s *Store) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Injected is how many faults were injected since New or Reset.
func (s *Store) Injected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.injected
}

// Reset sets the call and fault counts to zero.
func (s *Store) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n, s.injected = 0, 0
}

// Inner is the wrapped store.
func (s *Store) Inner() paygate.Store { return s.inner }

// enter counts a call, runs the hook when it may, and returns the fault.
func (s *Store) enter(method string, inTx bool) (Call, When) {
	s.mu.Lock()
	hook := s.hook
	runHook := hook != nil && !inTx && s.txDepth == 0 && !s.inHook
	if runHook {
		s.inHook = true
	}
	s.mu.Unlock()
	if runHook {
		defer func() {
			s.mu.Lock()
			s.inHook = false
			s.mu.Unlock()
		}()
		// The hook's own calls are counted before this one.
		hook(Call{N: s.Calls() + 1, Method: method, InTx: inTx})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	c := Call{N: s.n, Method: method, InTx: inTx}
	w := None
	if s.plan != nil {
		w = s.plan(c)
	}
	if w != None {
		s.injected++
	}
	return c, w
}

// do runs one call under the plan.
func do[T any](s *Store, method string, inTx bool, fn func() (T, error)) (T, error) {
	c, w := s.enter(method, inTx)
	var zero T
	if w == Before {
		return zero, newError(c, w)
	}
	v, err := fn()
	if w == After {
		return zero, newError(c, w)
	}
	return v, err
}

func do0(s *Store, method string, inTx bool, fn func() error) error {
	_, err := do(s, method, inTx, func() (struct{}, error) { return struct{}{}, fn() })
	return err
}

// Tx counts the begin ("Tx"), every call of fn's transaction ("Tx.…") and
// the commit ("Tx.commit"). A fault at the begin fails it before fn runs; a
// fault Before the commit rolls back; a fault After the commit commits and
// still fails. Once committed, the transaction's AfterCommit functions run.
func (s *Store) Tx(ctx context.Context, fn func(tx paygate.StoreTx) error) error {
	c, w := s.enter("Tx", false)
	if w != None {
		return newError(c, w)
	}
	s.mu.Lock()
	s.txDepth++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.txDepth--
		s.mu.Unlock()
	}()
	var lost error
	var tx *Tx
	err := s.inner.Tx(ctx, func(inner paygate.StoreTx) error {
		tx = &Tx{inner: inner, s: s}
		if err := fn(tx); err != nil {
			return err
		}
		c, w := s.enter("Tx.commit", true)
		switch w {
		case Before:
			return newError(c, w)
		case After:
			lost = newError(c, w)
		}
		return nil
	})
	if err == nil && tx != nil {
		for _, f := range tx.onCommit {
			f()
		}
	}
	if err == nil && lost != nil {
		return lost
	}
	return err
}

// The Store methods, each one counted call.

// CreateMerchant is counted and passed on.
func (s *Store) CreateMerchant(ctx context.Context, m *paygate.Merchant) error {
	return do0(s, "CreateMerchant", false, func() error { return s.inner.CreateMerchant(ctx, m) })
}

// MerchantByAccessKey is counted and passed on.
func (s *Store) MerchantByAccessKey(ctx context.Context, accessKey string) (*paygate.Merchant, error) {
	return do(s, "MerchantByAccessKey", false, func() (*paygate.Merchant, error) { return s.inner.MerchantByAccessKey(ctx, accessKey) })
}

// MerchantByID is counted and passed on.
func (s *Store) MerchantByID(ctx context.Context, id int64) (*paygate.Merchant, error) {
	return do(s, "MerchantByID", false, func() (*paygate.Merchant, error) { return s.inner.MerchantByID(ctx, id) })
}

// CreateOrder is counted and passed on.
func (s *Store) CreateOrder(ctx context.Context, o *paygate.Order) error {
	return do0(s, "CreateOrder", false, func() error { return s.inner.CreateOrder(ctx, o) })
}

// OrderByOutTradeNo is counted and passed on.
func (s *Store) OrderByOutTradeNo(ctx context.Context, merchantID int64, outTradeNo string) (*paygate.Order, error) {
	return do(s, "OrderByOutTradeNo", false, func() (*paygate.Order, error) { return s.inner.OrderByOutTradeNo(ctx, merchantID, outTradeNo) })
}

// OrderByChannelNo is counted and passed on.
func (s *Store) OrderByChannelNo(ctx context.Context, channelNo string) (*paygate.Order, error) {
	return do(s, "OrderByChannelNo", false, func() (*paygate.Order, error) { return s.inner.OrderByChannelNo(ctx, channelNo) })
}

// ListOrders is counted and passed on.
func (s *Store) ListOrders(ctx context.Context, f paygate.OrderFilter) ([]*paygate.Order, error) {
	return do(s, "ListOrders", false, func() ([]*paygate.Order, error) { return s.inner.ListOrders(ctx, f) })
}

// RefundsByOrder is counted and passed on.
func (s *Store) RefundsByOrder(ctx context.Context, orderID int64) ([]*paygate.Refund, error) {
	return do(s, "RefundsByOrder", false, func() ([]*paygate.Refund, error) { return s.inner.RefundsByOrder(ctx, orderID) })
}

// EventsByOrder is counted and passed on.
func (s *Store) EventsByOrder(ctx context.Context, orderID int64) ([]*paygate.Event, error) {
	return do(s, "EventsByOrder", false, func() ([]*paygate.Event, error) { return s.inner.EventsByOrder(ctx, orderID) })
}

// EventByID is counted and passed on.
func (s *Store) EventByID(ctx context.Context, id string) (*paygate.Event, error) {
	return do(s, "EventByID", false, func() (*paygate.Event, error) { return s.inner.EventByID(ctx, id) })
}

// BeginIdempotent is counted and passed on.
func (s *Store) BeginIdempotent(ctx context.Context, rec *paygate.IdempotencyRecord) (*paygate.IdempotencyRecord, error) {
	return do(s, "BeginIdempotent", false, func() (*paygate.IdempotencyRecord, error) { return s.inner.BeginIdempotent(ctx, rec) })
}

// FinishIdempotent is counted and passed on.
func (s *Store) FinishIdempotent(ctx context.Context, rec *paygate.IdempotencyRecord) error {
	return do0(s, "FinishIdempotent", false, func() error { return s.inner.FinishIdempotent(ctx, rec) })
}

// ReleaseIdempotent is counted and passed on.
func (s *Store) ReleaseIdempotent(ctx context.Context, rec *paygate.IdempotencyRecord) error {
	return do0(s, "ReleaseIdempotent", false, func() error { return s.inner.ReleaseIdempotent(ctx, rec) })
}

// DeleteExpiredIdempotency is counted and passed on.
func (s *Store) DeleteExpiredIdempotency(ctx context.Context, before time.Time) (int64, error) {
	return do(s, "DeleteExpiredIdempotency", false, func() (int64, error) { return s.inner.DeleteExpiredIdempotency(ctx, before) })
}

// Ping is counted and passed on.
func (s *Store) Ping(ctx context.Context) error {
	return do0(s, "Ping", false, func() error { return s.inner.Ping(ctx) })
}

// Close closes the wrapped store; it is not counted and never fails by plan.
func (s *Store) Close() error { return s.inner.Close() }

// ListEvents is counted and passed on.
func (s *Store) ListEvents(ctx context.Context, f paygate.EventFilter) ([]*paygate.Event, error) {
	return do(s, "ListEvents", false, func() ([]*paygate.Event, error) { return s.inner.ListEvents(ctx, f) })
}

// RecordWebhookAttempt is counted and passed on.
func (s *Store) RecordWebhookAttempt(ctx context.Context, a *paygate.WebhookAttempt) error {
	return do0(s, "RecordWebhookAttempt", false, func() error { return s.inner.RecordWebhookAttempt(ctx, a) })
}

// MarkEventDead is counted and passed on.
func (s *Store) MarkEventDead(ctx context.Context, eventID string, at time.Time) error {
	return do0(s, "MarkEventDead", false, func() error { return s.inner.MarkEventDead(ctx, eventID, at) })
}

// ReviveEvent is counted and passed on.
func (s *Store) ReviveEvent(ctx context.Context, eventID string) error {
	return do0(s, "ReviveEvent", false, func() error { return s.inner.ReviveEvent(ctx, eventID) })
}

// WebhookAttempts is counted and passed on.
func (s *Store) WebhookAttempts(ctx context.Context, eventID string) ([]*paygate.WebhookAttempt, error) {
	return do(s, "WebhookAttempts", false, func() ([]*paygate.WebhookAttempt, error) { return s.inner.WebhookAttempts(ctx, eventID) })
}
