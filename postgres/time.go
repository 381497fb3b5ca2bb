package postgres

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// timestamptz keeps microseconds. The zero time.Time is stored as itself
// (0001-01-01 UTC) in NOT NULL columns and as NULL in the nullable ones
// (paid_at, closed_at, succeeded_at); either way it reads back as the zero
// time.

// norm is t as the store keeps it: UTC, truncated to the microsecond.
func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nullTime encodes t for a nullable column: the zero time is NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return norm(t)
}

// timeCol scans a timestamptz column, NULL or not, into a UTC time.
type timeCol struct{ t *time.Time }

func (c timeCol) ScanTimestamptz(v pgtype.Timestamptz) error {
	switch {
	case !v.Valid:
		*c.t = time.Time{}
	case v.InfinityModifier != pgtype.Finite:
		return fmt.Errorf("timestamptz is %v, want a finite time", v.InfinityModifier)
	default:
		*c.t = v.Time.UTC()
	}
	return nil
}

// orNow is t, or now() when t is zero, normalized.
func orNow(t time.Time, now func() time.Time) time.Time {
	if t.IsZero() {
		t = now()
	}
	return norm(t)
}
