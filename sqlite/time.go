package sqlite

import (
	"fmt"
	"time"
)

// Times are stored as INTEGER Unix microseconds, UTC, the precision both
// stores share. The zero time.Time is stored as its own microsecond count in
// NOT NULL columns and as NULL in the nullable ones (paid_at, closed_at,
// succeeded_at); either way it reads back as the zero time.

// norm is t as the store keeps it: UTC, truncated to the microsecond.
func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// micros encodes t for a NOT NULL column.
func micros(t time.Time) int64 { return t.UnixMicro() }

// nullMicros encodes t for a nullable column: the zero time is NULL.
func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// timeCol scans a microsecond column, NULL or not, into a UTC time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("time column holds %T, want INTEGER microseconds", v)
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
