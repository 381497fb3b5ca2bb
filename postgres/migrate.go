package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies the pending migrations (goose, embedded in the binary) to
// the schema behind s.
func (s *Store) Migrate(ctx context.Context) error { return Migrate(ctx, s.pool) }

// Migrate applies the pending migrations to the schema pool's connections
// use (the first existing one on their search_path); it is what `paygate
// migrate` runs. It holds a session-level advisory lock meanwhile, so that
// replicas starting together migrate one after the other: the first applies,
// the others find nothing to do. It uses goose's Provider and none of
// goose's global state.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return withProvider(pool, func(p *goose.Provider) error {
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("postgres: migrate: %w", err)
		}
		return nil
	})
}

// withProvider runs fn with a goose provider of the embedded migrations on
// pool's schema.
func withProvider(pool *pgxpool.Pool, fn func(p *goose.Provider) error) error {
	db := stdlib.OpenDBFromPool(pool) // closing it leaves the pool open
	defer db.Close()
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithDisableGlobalRegistry(true), goose.WithSessionLocker(schemaLocker{}))
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	return fn(p)
}

// lockClass is the first key of the migration lock ("payg"); the second is
// a hash of the schema being migrated.
const lockClass int32 = 0x70617967

// schemaLocker is goose's lock.SessionLocker as a blocking advisory lock
// scoped to the current schema. Unlike goose's own Postgres locker, which
// polls pg_try_advisory_lock every few seconds on one database-wide key, a
// waiter wakes the moment the lock is free (or its context ends), and
// separate schemas (several deployments in one database, parallel tests)
// do not wait for each other.
type schemaLocker struct{}

const lockKey = `hashtext(coalesce(current_schema(), ''))`

func (schemaLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1, `+lockKey+`)`, lockClass); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	return nil
}

func (schemaLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	var released bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock($1, `+lockKey+`)`, lockClass).Scan(&released); err != nil {
		return fmt.Errorf("release migration lock: %w", err)
	}
	if !released {
		return errors.New("release migration lock: it was not held")
	}
	return nil
}
