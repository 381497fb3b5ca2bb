// Package postgres is paygate's store for several replicas: a paygate.Store
// on PostgreSQL through a pgx v5 connection pool.
//
// Storage conventions: times are timestamptz, read back as UTC time.Time
// values with microsecond precision; NULL in paid_at, closed_at and
// succeeded_at stands for the zero time. Money is bigint fen. Merchant
// secrets are stored only sealed by a paygate.Sealer.
//
// Transactions run at READ COMMITTED; OrderForUpdate takes a row lock
// (SELECT ... FOR UPDATE), so writers of one order queue on it while other
// orders proceed.
package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paygate/paygate"
)

// DefaultMaxConns is the pool size when neither the URL (pool_max_conns)
// nor WithMaxConns sets one.
const DefaultMaxConns = 10

// Store is the PostgreSQL paygate.Store. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	sealer *paygate.Sealer
	now    func() time.Time
}

var _ paygate.Store = (*Store)(nil)

// Option configures Open.
type Option func(*config)

type config struct {
	migrate    bool
	maxConns   int32
	searchPath string
	now        func() time.Time
	tracer     pgx.QueryTracer
}

// WithMigrate makes Open apply pending migrations before it returns.
// Without it Open leaves the schema alone; call Migrate explicitly.
func WithMigrate() Option { return func(c *config) { c.migrate = true } }

// WithMaxConns sets the pool size, overriding the URL's pool_max_conns.
func WithMaxConns(n int32) Option {
	return func(c *config) {
		if n > 0 {
			c.maxConns = n
		}
	}
}

// WithSearchPath sets every connection's search_path, so that the store
// lives in its own schema (which must exist).
func WithSearchPath(path string) Option { return func(c *config) { c.searchPath = path } }

// WithClock sets the clock used to stamp rows whose caller left a creation
// or update time zero (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// Open connects a pool to the database at url (a postgres:// URL or a
// key=value string; pool_max_conns and other pgxpool settings are honoured)
// and checks that it answers. It applies migrations only with WithMigrate.
// The sealer encrypts and decrypts merchant secrets.
func Open(ctx context.Context, url string, sealer *paygate.Sealer, opts ...Option) (*Store, error) {
	if sealer == nil {
		return nil, errors.New("postgres: open: a sealer is required")
	}
	cfg := config{now: time.Now}
	for _, opt := range opts {
		opt(&cfg)
	}
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("postgres: open: invalid database URL")
	}
	switch {
	case cfg.maxConns > 0:
		pcfg.MaxConns = cfg.maxConns
	case !strings.Contains(url, "pool_max_conns"):
		pcfg.MaxConns = DefaultMaxConns
	}
	if cfg.searchPath != "" {
		pcfg.ConnConfig.RuntimeParams["search_path"] = cfg.searchPath
	}
	if cfg.tracer != nil {
		pcfg.ConnConfig.Tracer = cfg.tracer
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, wrapErr(err, "postgres: open")
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, wrapErr(err, "postgres: open")
	}
	s := &Store{pool: pool, sealer: sealer, now: cfg.now}
	if cfg.migrate {
		if err := s.Migrate(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return s, nil
}

// DB is the underlying pool, for work that must share the database (the
// River job queue); it stays owned by the Store, which closes it.
func (s *Store) DB() *pgxpool.Pool { return s.pool }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return wrapErr(err, "postgres: ping")
	}
	return nil
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// querier is what *pgxpool.Pool and pgx.Tx share, so that one function
// serves a Store call and a Tx call.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// scanner is a pgx.Row or pgx.Rows.
type scanner interface {
	Scan(dest ...any) error
}
