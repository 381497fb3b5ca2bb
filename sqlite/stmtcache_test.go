package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// TestStatementCache runs the same texts over and over on one pooled
// connection, the way the store does, and checks that what a kept prepared
// statement returns is always what the text means now: fresh bindings, a
// second read of the same text while the first is open, a failure, a schema
// change under the statement, more texts than the cache keeps, and a clean
// close with statements cached.
func TestStatementCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "paygate.db"))
	db := s.DB()
	db.SetMaxOpenConns(1) // every call below on the same connection and cache
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE cache_t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)`)
	for i := range 50 {
		exec(`INSERT INTO cache_t (id, name) VALUES (?, ?)`, i, fmt.Sprintf("n%02d", i))
	}
	name := func(id int) string {
		t.Helper()
		var n string
		if err := db.QueryRowContext(ctx, `SELECT name FROM cache_t WHERE id = ?`, id).Scan(&n); err != nil {
			t.Fatalf("select %d: %v", id, err)
		}
		return n
	}
	for i := range 50 {
		if got, want := name(i), fmt.Sprintf("n%02d", i); got != want {
			t.Fatalf("id %d: name %q, want %q", i, got, want)
		}
	}

	// The same text inside its own open rows (on the same connection, in a
	// transaction): the inner read gets a statement of its own.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	const byRange = `SELECT id FROM cache_t WHERE id >= ? AND id < ? ORDER BY id`
	outer, err := tx.QueryContext(ctx, byRange, 0, 5)
	if err != nil {
		t.Fatal(err)
	}
	var pairs int
	for outer.Next() {
		var id int
		if err := outer.Scan(&id); err != nil {
			t.Fatal(err)
		}
		inner, err := tx.QueryContext(ctx, byRange, id, id+2)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int
		for inner.Next() {
			var j int
			if err := inner.Scan(&j); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, j)
		}
		if err := inner.Close(); err != nil {
			t.Fatal(err)
		}
		if len(ids) != 2 || ids[0] != id || ids[1] != id+1 {
			t.Fatalf("inner read from %d: %v", id, ids)
		}
		pairs++
	}
	if err := outer.Err(); err != nil || pairs != 5 {
		t.Fatalf("outer read: %d rows, %v", pairs, err)
	}
	outer.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	// A failure (a unique clash) leaves the text usable.
	if _, err := db.ExecContext(ctx, `INSERT INTO cache_t (id, name) VALUES (?, ?)`, 100, "n01"); err == nil {
		t.Fatal("duplicate name inserted")
	}
	exec(`INSERT INTO cache_t (id, name) VALUES (?, ?)`, 100, "n100")
	if got := name(100); got != "n100" {
		t.Fatalf("after a failure: %q", got)
	}

	// A schema change under a kept statement: SQLite prepares it again.
	var cols int
	const star = `SELECT * FROM cache_t WHERE id = 1`
	countCols := func() int {
		rows, err := db.QueryContext(ctx, star)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		c, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		return len(c)
	}
	if cols = countCols(); cols != 2 {
		t.Fatalf("%d columns", cols)
	}
	exec(`ALTER TABLE cache_t ADD COLUMN extra TEXT NOT NULL DEFAULT 'x'`)
	if cols = countCols(); cols != 3 {
		t.Fatalf("after ALTER TABLE: %d columns, want 3", cols)
	}

	// More texts than the cache keeps, each still right.
	for i := range 300 {
		var n int
		q := fmt.Sprintf(`SELECT %d + id FROM cache_t WHERE id = ?`, i)
		if err := db.QueryRowContext(ctx, q, 2).Scan(&n); err != nil || n != i+2 {
			t.Fatalf("%s: %d, %v", q, n, err)
		}
	}
	if got := name(7); got != "n07" {
		t.Fatalf("after eviction: %q", got)
	}
	// Closing with statements cached finalizes them first.
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}
