package faultstore

import (
	"context"
	"time"

	"github.com/paygate/paygate"
)

// The paygate.ActivityStore methods, each one counted call.

// RecordActivities is counted and passed on.
func (s *Store) RecordActivities(ctx context.Context, batch []*paygate.OrderActivity) error {
	return do0(s, "RecordActivities", false, func() error { return s.inner.RecordActivities(ctx, batch) })
}

// ActivitiesByOrder is counted and passed on.
func (s *Store) ActivitiesByOrder(ctx context.Context, orderID int64) ([]*paygate.OrderActivity, error) {
	return do(s, "ActivitiesByOrder", false, func() ([]*paygate.OrderActivity, error) { return s.inner.ActivitiesByOrder(ctx, orderID) })
}

// DeleteActivitiesBefore is counted and passed on.
func (s *Store) DeleteActivitiesBefore(ctx context.Context, before time.Time) (int64, error) {
	return do(s, "DeleteActivitiesBefore", false, func() (int64, error) { return s.inner.DeleteActivitiesBefore(ctx, before) })
}
