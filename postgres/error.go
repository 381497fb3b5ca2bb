package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

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
	return wrapErr(err, "postgres: "+what)
}

// wrapErr wraps err with context, marking it EDatabaseDown when it means
// the database cannot be reached right now, so the caller is told to come
// back (503 with Retry-After) instead of seeing an internal error.
func wrapErr(err error, context string) error {
	if unreachable(err) {
		return fmt.Errorf("%w: %s: %w", errDatabaseDown, context, err)
	}
	return fmt.Errorf("%s: %w", context, err)
}

// errDatabaseDown is what the caller is told; the cause goes to the log.
var errDatabaseDown = paygate.Errorf(paygate.EDatabaseDown, "the database cannot be reached; retry later")

// SQLSTATE classes and codes that mean the server is not there for us now:
// connection exceptions, a server shutting down or starting, no connection
// slot left.
const (
	classConnection   = "08"
	adminShutdown     = "57P01"
	crashShutdown     = "57P02"
	cannotConnectNow  = "57P03"
	tooManyConnection = "53300"
)

// unreachable reports whether err means the database cannot be reached: no
// connection could be made (refused, DNS, TLS, authentication at connect),
// the connection broke or timed out on the network, the server is shutting
// down or refusing connections, or the call's deadline passed while waiting
// for the database (a pool connection, a lock, a slow server). A query the
// server answered with any other error is not: that is a fault here.
// The caller's own cancellation is not either: nobody is waiting for the
// answer.
func unreachable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case len(pe.Code) == 5 && pe.Code[:2] == classConnection,
			pe.Code == adminShutdown, pe.Code == crashShutdown, pe.Code == cannotConnectNow, pe.Code == tooManyConnection:
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) // the server went away mid-answer
}
