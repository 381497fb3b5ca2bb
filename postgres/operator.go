package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/paygate/paygate"
)

// The paygate.OperatorStore methods: operators, their audit trail, revoked
// sessions, and the cross-merchant order search.

const operatorColumns = `id, username, password_hash, role, disabled_at, failed_logins, locked_until,
	sessions_valid_after, created_at, updated_at`

func scanOperator(sc scanner) (*paygate.Operator, error) {
	var o paygate.Operator
	var role string
	var failed int32
	err := sc.Scan(&o.ID, &o.Username, &o.PasswordHash, &role, timeCol{&o.DisabledAt}, &failed,
		timeCol{&o.LockedUntil}, timeCol{&o.SessionsValidAfter}, timeCol{&o.CreatedAt}, timeCol{&o.UpdatedAt})
	if err != nil {
		return nil, err
	}
	o.Role, o.FailedLogins = paygate.Role(role), int(failed)
	return &o, nil
}

// CreateOperator inserts o and sets its ID; see paygate.OperatorStore. A
// zero CreatedAt is now; a zero UpdatedAt or SessionsValidAfter is
// CreatedAt.
func (s *Store) CreateOperator(ctx context.Context, o *paygate.Operator) error {
	o.CreatedAt = orNow(o.CreatedAt, s.now)
	if o.UpdatedAt.IsZero() {
		o.UpdatedAt = o.CreatedAt
	}
	if o.SessionsValidAfter.IsZero() {
		o.SessionsValidAfter = o.CreatedAt
	}
	o.UpdatedAt, o.SessionsValidAfter = norm(o.UpdatedAt), norm(o.SessionsValidAfter)
	o.DisabledAt, o.LockedUntil = normZero(o.DisabledAt), normZero(o.LockedUntil)
	err := s.pool.QueryRow(ctx, `INSERT INTO operators (username, password_hash, role, disabled_at,
	failed_logins, locked_until, sessions_valid_after, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		o.Username, o.PasswordHash, string(o.Role), nullTime(o.DisabledAt), o.FailedLogins, nullTime(o.LockedUntil),
		o.SessionsValidAfter, o.CreatedAt, o.UpdatedAt).Scan(&o.ID)
	return dbError(err, "operator "+o.Username)
}

// normZero is norm, keeping the zero time zero.
func normZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return norm(t)
}

// OperatorByUsername returns the operator; ENotFound if none.
func (s *Store) OperatorByUsername(ctx context.Context, username string) (*paygate.Operator, error) {
	o, err := scanOperator(s.pool.QueryRow(ctx, `SELECT `+operatorColumns+` FROM operators WHERE username = $1`, username))
	if err != nil {
		return nil, dbError(err, "operator "+username)
	}
	return o, nil
}

// ListOperators lists every operator by username.
func (s *Store) ListOperators(ctx context.Context) ([]*paygate.Operator, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+operatorColumns+` FROM operators ORDER BY username COLLATE "C"`)
	if err != nil {
		return nil, dbError(err, "list operators")
	}
	defer rows.Close()
	out := []*paygate.Operator{}
	for rows.Next() {
		o, err := scanOperator(rows)
		if err != nil {
			return nil, dbError(err, "list operators")
		}
		out = append(out, o)
	}
	return out, dbError(rows.Err(), "list operators")
}

// UpdateOperator writes o's mutable fields; see paygate.OperatorStore.
func (s *Store) UpdateOperator(ctx context.Context, o *paygate.Operator) error {
	o.UpdatedAt = orNow(o.UpdatedAt, s.now)
	o.SessionsValidAfter = norm(o.SessionsValidAfter)
	o.DisabledAt, o.LockedUntil = normZero(o.DisabledAt), normZero(o.LockedUntil)
	tag, err := s.pool.Exec(ctx, `UPDATE operators SET password_hash = $1, role = $2, disabled_at = $3,
	failed_logins = $4, locked_until = $5, sessions_valid_after = $6, updated_at = $7 WHERE id = $8`,
		o.PasswordHash, string(o.Role), nullTime(o.DisabledAt), o.FailedLogins, nullTime(o.LockedUntil),
		o.SessionsValidAfter, o.UpdatedAt, o.ID)
	return affected(tag, err, "operator "+o.Username)
}

// RecordLoginFailure counts a failed login in one statement, so that
// concurrent failures on several replicas each count (the row lock orders
// them); see paygate.OperatorStore.
func (s *Store) RecordLoginFailure(ctx context.Context, id int64, at time.Time, limit int, lock time.Duration) (*paygate.Operator, error) {
	at = norm(at)
	o, err := scanOperator(s.pool.QueryRow(ctx, `UPDATE operators SET
	failed_logins = CASE WHEN failed_logins + 1 >= $1 THEN 0 ELSE failed_logins + 1 END,
	locked_until = CASE WHEN failed_logins + 1 >= $1 THEN $2 ELSE locked_until END,
	updated_at = $3
WHERE id = $4 RETURNING `+operatorColumns, limit, at.Add(lock), at, id))
	if err != nil {
		return nil, dbError(err, "operator")
	}
	return o, nil
}

// ResetLoginFailures clears the failure count after a successful login.
func (s *Store) ResetLoginFailures(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE operators SET failed_logins = 0 WHERE id = $1`, id)
	return affected(tag, err, "operator")
}

// RecordOperatorAction appends a; see paygate.OperatorStore.
func (s *Store) RecordOperatorAction(ctx context.Context, a *paygate.OperatorAction) error {
	a.At = orNow(a.At, s.now)
	err := s.pool.QueryRow(ctx, `INSERT INTO operator_actions (at, operator, action, order_id, merchant_id,
	target, detail, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		a.At, a.Operator, a.Action, nullID(a.OrderID), nullID(a.MerchantID), a.Target, a.Detail, a.Outcome).Scan(&a.ID)
	return dbError(err, "operator action")
}

// OperatorActions lists records newest first; see paygate.OperatorStore.
func (s *Store) OperatorActions(ctx context.Context, f paygate.OperatorActionFilter) ([]*paygate.OperatorAction, error) {
	where, args := []string{"true"}, []any{}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+" $"+strconv.Itoa(len(args)))
	}
	if f.OrderID != 0 {
		add("order_id =", f.OrderID)
	}
	if f.MerchantID != 0 {
		add("merchant_id =", f.MerchantID)
	}
	if f.BeforeID > 0 {
		add("id <", f.BeforeID)
	}
	args = append(args, paygate.ActionLimit(f.Limit))
	rows, err := s.pool.Query(ctx, `SELECT id, at, operator, action, coalesce(order_id, 0), coalesce(merchant_id, 0),
	target, detail, outcome FROM operator_actions WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, dbError(err, "operator actions")
	}
	defer rows.Close()
	out := []*paygate.OperatorAction{}
	for rows.Next() {
		var a paygate.OperatorAction
		if err := rows.Scan(&a.ID, timeCol{&a.At}, &a.Operator, &a.Action, &a.OrderID, &a.MerchantID,
			&a.Target, &a.Detail, &a.Outcome); err != nil {
			return nil, dbError(err, "operator actions")
		}
		out = append(out, &a)
	}
	return out, dbError(rows.Err(), "operator actions")
}

// RevokeSession records jti as revoked until until; again is no error.
func (s *Store) RevokeSession(ctx context.Context, jti string, until time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO revoked_sessions (jti, expires_at) VALUES ($1, $2)
ON CONFLICT (jti) DO UPDATE SET expires_at = greatest(revoked_sessions.expires_at, excluded.expires_at)`, jti, norm(until))
	return dbError(err, "revoked session")
}

// SessionRevoked reports whether jti is on the revocation list.
func (s *Store) SessionRevoked(ctx context.Context, jti string) (bool, error) {
	var found bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM revoked_sessions WHERE jti = $1)`, jti).Scan(&found)
	if err != nil {
		return false, dbError(err, "revoked session")
	}
	return found, nil
}

// PurgeRevokedSessions deletes revocations that ended before before.
func (s *Store) PurgeRevokedSessions(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM revoked_sessions WHERE expires_at < $1`, norm(before))
	if err != nil {
		return 0, dbError(err, "revoked sessions")
	}
	return tag.RowsAffected(), nil
}

// OrderByID returns any merchant's order; ENotFound if none.
func (s *Store) OrderByID(ctx context.Context, id int64) (*paygate.Order, error) {
	o, err := scanOrder(s.pool.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = $1`, id))
	if err != nil {
		return nil, dbError(err, "order")
	}
	return o, nil
}

// SearchOrders returns the orders q selects across merchants, newest
// first; see paygate.OrderSearch.
func (s *Store) SearchOrders(ctx context.Context, q paygate.OrderSearch) ([]*paygate.Order, error) {
	query, args := searchOrdersQuery(q)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, dbError(err, "search orders")
	}
	defer rows.Close()
	orders := []*paygate.Order{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, dbError(err, "search orders")
		}
		orders = append(orders, o)
	}
	return orders, dbError(rows.Err(), "search orders")
}

// searchOrdersQuery is SearchOrders' statement and arguments.
func searchOrdersQuery(q paygate.OrderSearch) (string, []any) {
	where, args := []string{"true"}, []any{}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+" $"+strconv.Itoa(len(args)))
	}
	if q.MerchantID != 0 {
		add("merchant_id =", q.MerchantID)
	}
	if q.OutTradeNo != "" {
		add("out_trade_no =", q.OutTradeNo)
	}
	if q.TradeNo != "" {
		// The redundant <> '' lets a generic plan (a prepared statement
		// past its first runs) use the partial index orders_trade_no_idx:
		// trade_no = $n alone does not imply its WHERE.
		add("trade_no <> '' AND trade_no =", q.TradeNo)
	}
	if q.Status != "" {
		add("status =", string(q.Status))
	}
	if !q.From.IsZero() {
		add("created_at >=", norm(q.From))
	}
	if !q.To.IsZero() {
		add("created_at <", norm(q.To))
	}
	if q.BeforeID > 0 {
		add("id <", q.BeforeID)
	}
	args = append(args, listLimit(q.Limit))
	return `SELECT ` + orderColumns + ` FROM orders WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY id DESC LIMIT $` + strconv.Itoa(len(args)), args
}
