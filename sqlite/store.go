// Package sqlite is paygate's embedded store: a paygate.Store on one SQLite
// file through modernc.org/sqlite (pure Go, no cgo), for a single node.
//
// Storage conventions: times are INTEGER Unix microseconds in UTC and are
// read back as UTC time.Time values; NULL in paid_at, closed_at and
// succeeded_at stands for the zero time. Money is INTEGER fen. Merchant
// secrets are stored only sealed by a paygate.Sealer.
//
// Durability and locking: every pooled connection runs with
// journal_mode=WAL, synchronous=FULL, foreign_keys=ON and a busy timeout,
// and every transaction begins with BEGIN IMMEDIATE (see Open).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/paygate/paygate"

	msqlite "modernc.org/sqlite"
)

// Defaults for Open.
const (
	DefaultMaxOpenConns = 8
	DefaultBusyTimeout  = 10 * time.Second
)

// Store is the SQLite paygate.Store. It is safe for concurrent use.
type Store struct {
	db     *sql.DB
	sealer *paygate.Sealer
	now    func() time.Time
}

var _ paygate.Store = (*Store)(nil)

// Option configures Open.
type Option func(*config)

type config struct {
	migrate      bool
	maxOpenConns int
	busyTimeout  time.Duration
	now          func() time.Time
}

// WithMigrate makes Open apply pending migrations before it returns.
// Without it Open leaves the schema alone; call Migrate explicitly.
func WithMigrate() Option { return func(c *config) { c.migrate = true } }

// WithMaxOpenConns bounds the connection pool (default DefaultMaxOpenConns).
// Readers run concurrently; writers queue on SQLite's single write lock.
func WithMaxOpenConns(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxOpenConns = n
		}
	}
}

// WithBusyTimeout sets how long a writer waits for the write lock before
// failing with SQLITE_BUSY (default DefaultBusyTimeout).
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.busyTimeout = d
		}
	}
}

// WithClock sets the clock used to stamp rows whose caller left a creation
// or update time zero (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// Open opens (creating if needed, with its directory) the database file at
// path, mode 0600, and checks that it answers. It applies migrations only
// with WithMigrate. The sealer encrypts and decrypts merchant secrets.
//
// Every connection gets, through the DSN so that every pooled connection has
// them:
//   - journal_mode=WAL: readers never block the writer, nor it them;
//   - synchronous=FULL: every commit fsyncs the WAL, so a state change is
//     durable before it is acknowledged. NORMAL in WAL mode would skip that
//     fsync and could lose the last commits on power loss, which for a
//     payment gateway means forgetting an order the shop was told exists;
//   - foreign_keys=ON, off by default in SQLite;
//   - busy_timeout, so a writer waits for the lock instead of failing;
//   - _txlock=immediate: transactions start with BEGIN IMMEDIATE and hold
//     the write lock from their first statement. This is how "ForUpdate" is
//     honoured (no other writer can run until commit) and why a transaction
//     never fails half-way upgrading a read lock to a write lock.
func Open(ctx context.Context, path string, sealer *paygate.Sealer, opts ...Option) (*Store, error) {
	if sealer == nil {
		return nil, errors.New("sqlite: open: a sealer is required")
	}
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open: %q is not a plain file path", path)
	}
	cfg := config{maxOpenConns: DefaultMaxOpenConns, busyTimeout: DefaultBusyTimeout, now: time.Now}
	for _, opt := range opts {
		opt(&cfg)
	}
	if err := createFile(path); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	// Through a connector that keeps each connection's prepared statements
	// (see connector): the same driver, settings and SQL, parsed once.
	db := sql.OpenDB(&connector{dsn: dsn(path, cfg.busyTimeout), drv: &msqlite.Driver{}})
	db.SetMaxOpenConns(cfg.maxOpenConns)
	db.SetMaxIdleConns(cfg.maxOpenConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s := &Store{db: db, sealer: sealer, now: cfg.now}
	if cfg.migrate {
		if err := s.Migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return s, nil
}

// dsn builds the connection string; see Open for why each setting is there.
func dsn(path string, busyTimeout time.Duration) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return path + "?" + q.Encode()
}

// createFile makes path's directory (0700) and the file itself (0600) when
// they are missing. SQLite gives its -wal and -shm files the database file's
// permissions, so the secrets' ciphertexts and the orders stay private.
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// DB is the underlying pool, for work that must share the database (the
// River job queue); it stays owned by the Store, which closes it.
func (s *Store) DB() *sql.DB { return s.db }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return wrapErr(err, "sqlite: ping")
	}
	return nil
}

// Close closes the pool; in-flight calls fail.
func (s *Store) Close() error { return s.db.Close() }

// querier is what *sql.DB and *sql.Tx share, so that one function serves a
// Store call and a Tx call.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}
