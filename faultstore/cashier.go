package faultstore

import (
	"context"

	"github.com/paygate/paygate"
)

// The paygate.CashierStore method, one counted call.

// OrderByCashierToken is counted and passed on.
func (s *Store) OrderByCashierToken(ctx context.Context, token string) (*paygate.Order, error) {
	return do(s, "OrderByCashierToken", false, func() (*paygate.Order, error) { return s.inner.OrderByCashierToken(ctx, token) })
}
