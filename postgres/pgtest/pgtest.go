// Package pgtest gives tests a PostgreSQL schema of their own on the test
// database named by PAYGATE_TEST_POSTGRES_URL, so that tests run in parallel,
// and in CI's shared database, apart.
package pgtest

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/testenv"
)

// URL is the test database. Without one a test is skipped, and counted for
// testenv.Main's summary, or failed in CI (CI=true), where skipping would
// hide that nothing ran.
func URL(t testing.TB) string {
	t.Helper()
	return testenv.Postgres(t)
}

// Schema creates an empty schema for t, dropped when t ends.
func Schema(t testing.TB) (url, schema string) {
	t.Helper()
	url = URL(t)
	ctx := context.Background()
	schema = "pgtest_" + strings.ToLower(rand.Text())
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("connect: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return url, schema
}

// Open opens a store in a new schema; opts may ask it to migrate.
func Open(t testing.TB, sealer *paygate.Sealer, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	url, schema := Schema(t)
	opts = append([]postgres.Option{postgres.WithSearchPath(schema)}, opts...)
	s, err := postgres.Open(context.Background(), url, sealer, opts...)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() }) // before the schema is dropped
	return s
}
