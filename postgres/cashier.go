package postgres

import (
	"context"

	"github.com/paygate/paygate"
)

// OrderByCashierToken returns the order whose cashier page token is
// token; ENotFound if none.
func (s *Store) OrderByCashierToken(ctx context.Context, token string) (*paygate.Order, error) {
	if token == "" {
		return nil, paygate.Errorf(paygate.ENotFound, "no order has an empty cashier token")
	}
	o, err := scanOrder(s.pool.QueryRow(ctx,
		`SELECT `+orderColumns+` FROM orders WHERE cashier_token = $1`, token))
	if err != nil {
		return nil, dbError(err, "order with that cashier token") // the token itself stays out of errors and logs
	}
	return o, nil
}
