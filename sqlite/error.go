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
	return fmt.Errorf("sqlite: %s: %w", what, err)
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
