package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/paygate/paygate"
)

// SQLSTATE codes given domain meaning.
const (
	uniqueViolation     = "23505"
	checkViolation      = "23514"
	foreignKeyViolation = "23503"
	notNullViolation    = "23502"
)

// dbError gives a database error its domain meaning, once, at the store
// boundary: no row is ENotFound, a unique violation is EConflict, a CHECK,
// foreign-key or NOT NULL violation is EInvalid (the caller asked for
// something the schema forbids). Anything else is wrapped as an internal
// error. what names the row, such as "order 12".
func dbError(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return paygate.Errorf(paygate.ENotFound, "%s not found", what)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case uniqueViolation:
			return paygate.Errorf(paygate.EConflict, "%s already exists (%s)", what, pe.ConstraintName)
		case checkViolation, foreignKeyViolation:
			return paygate.Errorf(paygate.EInvalid, "%s violates a constraint (%s)", what, pe.ConstraintName)
		case notNullViolation:
			return paygate.Errorf(paygate.EInvalid, "%s violates a constraint (%s.%s NOT NULL)", what, pe.TableName, pe.ColumnName)
		}
	}
	return fmt.Errorf("postgres: %s: %w", what, err)
}
