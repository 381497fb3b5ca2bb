package faultstore

import (
	"context"
	"time"

	"github.com/paygate/paygate"
)

// The paygate.OperatorStore methods, each one counted call.

// CreateOperator is counted and passed on.
func (s *Store) CreateOperator(ctx context.Context, o *paygate.Operator) error {
	return do0(s, "CreateOperator", false, func() error { return s.inner.CreateOperator(ctx, o) })
}

// OperatorByUsername is counted and passed on.
func (s *Store) OperatorByUsername(ctx context.Context, username string) (*paygate.Operator, error) {
	return do(s, "OperatorByUsername", false, func() (*paygate.Operator, error) { return s.inner.OperatorByUsername(ctx, username) })
}

// ListOperators is counted and passed on.
func (s *Store) ListOperators(ctx context.Context) ([]*paygate.Operator, error) {
	return do(s, "ListOperators", false, func() ([]*paygate.Operator, error) { return s.inner.ListOperators(ctx) })
}

// UpdateOperator is counted and passed on.
func (s *Store) UpdateOperator(ctx context.Context, o *paygate.Operator) error {
	return do0(s, "UpdateOperator", false, func() error { return s.inner.UpdateOperator(ctx, o) })
}

// RecordLoginFailure is counted and passed on.
func (s *Store) RecordLoginFailure(ctx context.Context, id int64, at time.Time, limit int, lock time.Duration) (*paygate.Operator, error) {
	return do(s, "RecordLoginFailure", false, func() (*paygate.Operator, error) {
		return s.inner.RecordLoginFailure(ctx, id, at, limit, lock)
	})
}

// ResetLoginFailures is counted and passed on.
func (s *Store) ResetLoginFailures(ctx context.Context, id int64) error {
	return do0(s, "ResetLoginFailures", false, func() error { return s.inner.ResetLoginFailures(ctx, id) })
}

// RecordOperatorAction is counted and passed on.
func (s *Store) RecordOperatorAction(ctx context.Context, a *paygate.OperatorAction) error {
	return do0(s, "RecordOperatorAction", false, func() error { return s.inner.RecordOperatorAction(ctx, a) })
}

// OperatorActions is counted and passed on.
func (s *Store) OperatorActions(ctx context.Context, f paygate.OperatorActionFilter) ([]*paygate.OperatorAction, error) {
	return do(s, "OperatorActions", false, func() ([]*paygate.OperatorAction, error) { return s.inner.OperatorActions(ctx, f) })
}

// RevokeSession is counted and passed on.
func (s *Store) RevokeSession(ctx context.Context, jti string, until time.Time) error {
	return do0(s, "RevokeSession", false, func() error { return s.inner.RevokeSession(ctx, jti, until) })
}

// SessionRevoked is counted and passed on.
func (s *Store) SessionRevoked(ctx context.Context, jti string) (bool, error) {
	return do(s, "SessionRevoked", false, func() (bool, error) { return s.inner.SessionRevoked(ctx, jti) })
}

// PurgeRevokedSessions is counted and passed on.
func (s *Store) PurgeRevokedSessions(ctx context.Context, before time.Time) (int64, error) {
	return do(s, "PurgeRevokedSessions", false, func() (int64, error) { return s.inner.PurgeRevokedSessions(ctx, before) })
}

// OrderByID is counted and passed on.
func (s *Store) OrderByID(ctx context.Context, id int64) (*paygate.Order, error) {
	return do(s, "OrderByID", false, func() (*paygate.Order, error) { return s.inner.OrderByID(ctx, id) })
}

// SearchOrders is counted and passed on.
func (s *Store) SearchOrders(ctx context.Context, q paygate.OrderSearch) ([]*paygate.Order, error) {
	return do(s, "SearchOrders", false, func() ([]*paygate.Order, error) { return s.inner.SearchOrders(ctx, q) })
}
