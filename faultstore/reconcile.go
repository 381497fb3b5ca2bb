package faultstore

import (
	"context"
	"fmt"
	"time"

	"github.com/paygate/paygate"
)

// The paygate.ReconStore methods, each one counted call. A scan faulted
// After streams every row to fn and then fails, as a connection lost while
// the last rows were read would.

// ScanBookPayments is counted and passed on.
func (s *Store) ScanBookPayments(ctx context.Context, ch paygate.Channel, from, to time.Time, fn func(*paygate.BookEntry) error) error {
	return do0(s, "ScanBookPayments", false, func() error { return s.inner.ScanBookPayments(ctx, ch, from, to, fn) })
}

// ScanBookRefunds is counted and passed on.
func (s *Store) ScanBookRefunds(ctx context.Context, ch paygate.Channel, from, to time.Time, fn func(*paygate.BookEntry) error) error {
	return do0(s, "ScanBookRefunds", false, func() error { return s.inner.ScanBookRefunds(ctx, ch, from, to, fn) })
}

// SaveReconciliation is counted and passed on.
func (s *Store) SaveReconciliation(ctx context.Context, r *paygate.Reconciliation) error {
	return do0(s, "SaveReconciliation", false, func() error { return s.inner.SaveReconciliation(ctx, r) })
}

// Reconciliation is counted and passed on.
func (s *Store) Reconciliation(ctx context.Context, day string, ch paygate.Channel) (*paygate.Reconciliation, error) {
	return do(s, "Reconciliation", false, func() (*paygate.Reconciliation, error) { return s.inner.Reconciliation(ctx, day, ch) })
}

// ListReconciliations is counted and passed on.
func (s *Store) ListReconciliations(ctx context.Context, ch paygate.Channel, limit int) ([]*paygate.Reconciliation, error) {
	return do(s, "ListReconciliations", false, func() ([]*paygate.Reconciliation, error) {
		return s.inner.ListReconciliations(ctx, ch, limit)
	})
}

// ReconDifferencesOf is counted and passed on.
func (s *Store) ReconDifferencesOf(ctx context.Context, day string, merchantID int64) ([]*paygate.ReconDifference, error) {
	return do(s, "ReconDifferencesOf", false, func() ([]*paygate.ReconDifference, error) {
		return s.inner.ReconDifferencesOf(ctx, day, merchantID)
	})
}

// ReconCrossDayOf is counted and passed on.
func (s *Store) ReconCrossDayOf(ctx context.Context, ch paygate.Channel, kind paygate.BookKind, channelNo, outRequestNo string) ([]*paygate.ReconCrossDay, error) {
	return do(s, "ReconCrossDayOf", false, func() ([]*paygate.ReconCrossDay, error) {
		return s.inner.ReconCrossDayOf(ctx, ch, kind, channelNo, outRequestNo)
	})
}

var _ paygate.BulkOrderLoader = (*Store)(nil)

// BulkInsertOrders is counted and passed on to the wrapped store, which
// must be a paygate.BulkOrderLoader (both stores are).
func (s *Store) BulkInsertOrders(ctx context.Context, orders []*paygate.Order, refunds []*paygate.Refund) error {
	return do0(s, "BulkInsertOrders", false, func() error {
		l, ok := s.inner.(paygate.BulkOrderLoader)
		if !ok {
			return fmt.Errorf("faultstore: %T cannot bulk insert orders", s.inner)
		}
		return l.BulkInsertOrders(ctx, orders, refunds)
	})
}
