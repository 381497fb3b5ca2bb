package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"time"
)

// migrationLock is goose's lock.SessionLocker for SQLite, which has no
// advisory locks: a one-row lease table. Two processes starting on the same
// file migrate one after the other (the second finds nothing to do), which
// statements without IF NOT EXISTS, such as ALTER TABLE ... ADD COLUMN,
// need. A holder that died leaves a lease that lapses after migrationLease.
type migrationLock struct {
	owner string // random, so a lapsed holder cannot release its successor's lock
}

// Timings of the migration lock.
const (
	migrationLease = 2 * time.Minute
	migrationPoll  = 25 * time.Millisecond
)

func newMigrationLock() *migrationLock { return &migrationLock{owner: rand.Text()} }

func (l *migrationLock) SessionLock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS paygate_migration_lock (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    owner      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT`); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	for {
		now := time.Now()
		res, err := conn.ExecContext(ctx, `INSERT INTO paygate_migration_lock (id, owner, expires_at) VALUES (1, ?, ?)
ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE paygate_migration_lock.expires_at < ?`, l.owner, now.Add(migrationLease).UnixMicro(), now.UnixMicro())
		if err != nil {
			return fmt.Errorf("take migration lock: %w", err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 1 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("take migration lock: %w", ctx.Err())
		case <-time.After(migrationPoll):
		}
	}
}

func (l *migrationLock) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `DELETE FROM paygate_migration_lock WHERE id = 1 AND owner = ?`, l.owner); err != nil {
		return fmt.Errorf("release migration lock: %w", err)
	}
	return nil
}
