package faultstore

import (
	"context"
	"time"

	"github.com/paygate/paygate"
)

// The paygate.MerchantAdmin methods, each one counted call.

// ListMerchants is counted and passed on.
func (s *Store) ListMerchants(ctx context.Context, f paygate.MerchantFilter) ([]*paygate.MerchantSummary, error) {
	return do(s, "ListMerchants", false, func() ([]*paygate.MerchantSummary, error) { return s.inner.ListMerchants(ctx, f) })
}

// MerchantSummary is counted and passed on.
func (s *Store) MerchantSummary(ctx context.Context, merchantID int64) (*paygate.MerchantSummary, error) {
	return do(s, "MerchantSummary", false, func() (*paygate.MerchantSummary, error) { return s.inner.MerchantSummary(ctx, merchantID) })
}

// DeadLetterReasons is counted and passed on.
func (s *Store) DeadLetterReasons(ctx context.Context, merchantID int64, limit int) ([]*paygate.DeadLetterReason, error) {
	return do(s, "DeadLetterReasons", false, func() ([]*paygate.DeadLetterReason, error) {
		return s.inner.DeadLetterReasons(ctx, merchantID, limit)
	})
}

// RotateMerchantSecrets is counted and passed on.
func (s *Store) RotateMerchantSecrets(ctx context.Context, merchantID int64, r paygate.SecretRotation) (*paygate.Merchant, error) {
	return do(s, "RotateMerchantSecrets", false, func() (*paygate.Merchant, error) { return s.inner.RotateMerchantSecrets(ctx, merchantID, r) })
}

// SetMerchantDisabled is counted and passed on.
func (s *Store) SetMerchantDisabled(ctx context.Context, merchantID int64, disabled bool, at time.Time) (*paygate.Merchant, error) {
	return do(s, "SetMerchantDisabled", false, func() (*paygate.Merchant, error) {
		return s.inner.SetMerchantDisabled(ctx, merchantID, disabled, at)
	})
}

// SetMerchantNotifyURL is counted and passed on.
func (s *Store) SetMerchantNotifyURL(ctx context.Context, merchantID int64, url string, at time.Time) (*paygate.Merchant, error) {
	return do(s, "SetMerchantNotifyURL", false, func() (*paygate.Merchant, error) {
		return s.inner.SetMerchantNotifyURL(ctx, merchantID, url, at)
	})
}

// UnroutedDeadEvents is counted and passed on.
func (s *Store) UnroutedDeadEvents(ctx context.Context, merchantID int64, since time.Time, limit int) ([]string, error) {
	return do(s, "UnroutedDeadEvents", false, func() ([]string, error) { return s.inner.UnroutedDeadEvents(ctx, merchantID, since, limit) })
}
