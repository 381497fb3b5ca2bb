package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/paygate/paygate"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dbError gives a database error its domain meaning, once, at the store
// boundary: no row is ENotFound, a unique or primary-key violation is
// EConflict, a CHECK, foreign-key or NOT NULL violation is EInvalid (the
// caller asked for something the schema forbids). Anything else is wrapped
// as an internal error. what names the row, such as "order 12".
func dbError(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return paygate.Errorf(paygate.ENotFound, "%s not found", what)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return paygate.Errorf(paygate.EConflict, "%s already exists (%s)", what, constraint(se))
		case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
			return paygate.Errorf(paygate.EInvalid, "%s violates a constraint (%s)", what, constraint(se))
		}
	}
	return wrapErr(err, "sqlite: "+what)
}

// wrapErr wraps err with context, marking it EDatabaseDown when it means
// the database cannot be used right now, so the caller is told to come back
// (503 with Retry-After) instead of seeing an internal error.
func wrapErr(err error, context string) error {
	if unreachable(err) {
		return fmt.Errorf("%w: %s: %w", errDatabaseDown, context, err)
	}
	return fmt.Errorf("%s: %w", context, err)
}

// errDatabaseDown is what the caller is told; the cause goes to the log.
var errDatabaseDown = paygate.Errorf(paygate.EDatabaseDown, "the database is busy or cannot be opened; retry later")

// unreachable reports whether err means the database cannot be used now:
// SQLITE_BUSY or SQLITE_LOCKED once the busy timeout has run out (another
// writer, often another process such as a backup or `paygate merchant
// create`, held the lock that long: it passes, so retrying is right), or the
// file cannot be opened. I/O errors, a full disk or corruption are not: they
// need an operator, and a 500 with the cause in the log says so.
func unreachable(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff { // the primary code of an extended one
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN:
		return true
	}
	return false
}

// constraint extracts what SQLite says failed, such as "orders.channel_no"
// from "constraint failed: UNIQUE constraint failed: orders.channel_no (2067)".
func constraint(se *sqlite.Error) string {
	msg := se.Error()
	if i := strings.LastIndex(msg, "failed: "); i >= 0 {
		msg = msg[i+len("failed: "):]
	}
	if i := strings.LastIndex(msg, " ("); i >= 0 {
		msg = msg[:i]
	}
	return msg
}
