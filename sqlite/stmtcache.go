package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"reflect"
	"sync"

	msqlite "modernc.org/sqlite"
)

// stmtCacheSize bounds the prepared statements kept per connection: the
// store's queries and River's are a few dozen texts, and a text beyond the
// bound (a multi-row insert of an unusual size, a migration) only costs the
// parse it cost before.
const stmtCacheSize = 128

// connector opens modernc.org/sqlite connections that keep their prepared
// statements. database/sql prepares, runs and finalizes every statement
// given as text, and SQLite's parser and planner (Go translated from C) cost
// a QR order about as much as its SQL's execution: 16 % of the gateway's CPU
// per order and 27 % per notification in the profiles of issue 11. A
// statement is parsed once per connection instead, and SQLite re-prepares it
// by itself should the schema change under it.
type connector struct {
	dsn string
	drv *msqlite.Driver
}

// Connect implements driver.Connector.
func (c *connector) Connect(context.Context) (driver.Conn, error) {
	dc, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &cachingConn{Conn: dc, stmts: make(map[string]*cachedStmt)}, nil
}

// Driver implements driver.Connector.
func (c *connector) Driver() driver.Driver { return c.drv }

// cachingConn is a driver connection whose QueryContext and ExecContext
// reuse a prepared statement per query text. database/sql uses a connection
// from one goroutine at a time, but a Rows may be closed from another (when
// its context ends), hence the mutex.
type cachingConn struct {
	driver.Conn
	mu    sync.Mutex
	stmts map[string]*cachedStmt
	tick  uint64 // use counter, for evicting the least recently used
}

// cachedStmt is a prepared statement; busy while a Rows reads from it (a
// second query of the same text meanwhile gets a statement of its own).
type cachedStmt struct {
	st      driver.Stmt
	busy    bool
	lastUse uint64
}

var (
	_ driver.QueryerContext     = (*cachingConn)(nil)
	_ driver.ExecerContext      = (*cachingConn)(nil)
	_ driver.ConnBeginTx        = (*cachingConn)(nil)
	_ driver.ConnPrepareContext = (*cachingConn)(nil)
	_ driver.Pinger             = (*cachingConn)(nil)
	_ driver.SessionResetter    = (*cachingConn)(nil)
	_ driver.Validator          = (*cachingConn)(nil)
)

// acquire returns the cached statement for query, marked busy, preparing
// and caching it when absent; nil when it is busy (the caller then runs the
// text uncached).
func (c *cachingConn) acquire(ctx context.Context, query string) (*cachedStmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tick++
	if cs := c.stmts[query]; cs != nil {
		if cs.busy {
			return nil, nil
		}
		cs.busy, cs.lastUse = true, c.tick
		return cs, nil
	}
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if len(c.stmts) >= stmtCacheSize {
		c.evictLocked()
	}
	cs := &cachedStmt{st: st, busy: true, lastUse: c.tick}
	c.stmts[query] = cs
	return cs, nil
}

// evictLocked finalizes the least recently used idle statement.
func (c *cachingConn) evictLocked() {
	var oldest string
	var found *cachedStmt
	for q, cs := range c.stmts {
		if !cs.busy && (found == nil || cs.lastUse < found.lastUse) {
			oldest, found = q, cs
		}
	}
	if found != nil {
		delete(c.stmts, oldest)
		_ = found.st.Close()
	}
}

// release makes cs available again; after an error it is dropped instead,
// so that a statement left in an unknown state is never run again.
func (c *cachingConn) release(query string, cs *cachedStmt, failed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs.busy = false
	if failed && c.stmts[query] == cs {
		delete(c.stmts, query)
		_ = cs.st.Close()
	}
}

// QueryContext implements driver.QueryerContext.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	}
	rows, err := cs.st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		c.release(query, cs, true)
		return nil, err
	}
	return &cachedRows{Rows: rows, release: func(failed bool) { c.release(query, cs, failed) }}, nil
}

// ExecContext implements driver.ExecerContext. The statement is reset by
// the time it returns, so it is released at once.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
	}
	res, err := cs.st.(driver.StmtExecContext).ExecContext(ctx, args)
	c.release(query, cs, err != nil)
	return res, err
}

// PrepareContext implements driver.ConnPrepareContext (an explicit Prepare
// owns its statement; it is not cached).
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

// BeginTx implements driver.ConnBeginTx.
func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

// Ping implements driver.Pinger.
func (c *cachingConn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

// ResetSession implements driver.SessionResetter.
func (c *cachingConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

// IsValid implements driver.Validator.
func (c *cachingConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

// Close finalizes the cached statements, then closes the connection (SQLite
// refuses to close a connection with statements left).
func (c *cachingConn) Close() error {
	c.mu.Lock()
	var errs []error
	for q, cs := range c.stmts {
		errs = append(errs, cs.st.Close())
		delete(c.stmts, q)
	}
	c.mu.Unlock()
	errs = append(errs, c.Conn.Close())
	return errors.Join(errs...)
}

// cachedRows releases its statement when closed, and passes the column type
// questions database/sql may ask on to the driver's rows.
type cachedRows struct {
	driver.Rows
	release func(failed bool)
	closed  bool
}

// Close implements driver.Rows.
func (r *cachedRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.Rows.Close()
	r.release(err != nil)
	return err
}

// ColumnTypeDatabaseTypeName implements driver.RowsColumnTypeDatabaseTypeName.
func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

// ColumnTypeLength implements driver.RowsColumnTypeLength.
func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

// ColumnTypeNullable implements driver.RowsColumnTypeNullable.
func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

// ColumnTypePrecisionScale implements driver.RowsColumnTypePrecisionScale.
func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

// ColumnTypeScanType implements driver.RowsColumnTypeScanType.
func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
