package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/sqlite"
	"github.com/paygate/paygate/storetest"
)

func newSealer(t testing.TB) *paygate.Sealer {
	t.Helper()
	s, err := paygate.NewSealer([]byte(strings.Repeat("k", paygate.MasterKeySize)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// open opens a migrated store on a new file under t's temp dir.
func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, newSealer(t), sqlite.WithMigrate())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) paygate.Store {
		return open(t, filepath.Join(t.TempDir(), "paygate.db"))
	})
}

func TestKeyCheck(t *testing.T) {
	t.Parallel()
	storetest.KeyCheck(t, func(t *testing.T) storetest.Reopener {
		path := filepath.Join(t.TempDir(), "paygate.db")
		return func(sealer *paygate.Sealer) paygate.Store {
			s, err := sqlite.Open(context.Background(), path, sealer, sqlite.WithMigrate())
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	})
}

// TestPragmas checks the durability settings on several pooled connections
// at once, not just the first one.
func TestPragmas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "paygate.db"))
	for i := range 4 {
		// Holding each connection makes the next one another connection.
		c, err := s.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for pragma, want := range map[string]string{
			"journal_mode": "wal",
			"synchronous":  "2", // FULL
			"foreign_keys": "1",
			"busy_timeout": "10000",
		} {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("conn %d: PRAGMA %s: %v", i, pragma, err)
			}
			if got != want {
				t.Errorf("conn %d: %s = %s, want %s", i, pragma, got, want)
			}
		}
	}
}

func TestFileMode(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nested", "dir", "paygate.db")
	s := open(t, path)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(p), mode)
		}
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "paygate.db")
	s, err := sqlite.Open(ctx, path, newSealer(t), sqlite.WithMigrate())
	if err != nil {
		t.Fatal(err)
	}
	m := &paygate.Merchant{Name: "Shop", AccessKey: "ak_1", SecretKey: "sk", WebhookSecret: "wh"}
	if err := s.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path) // migrating again is a no-op
	got, err := s.MerchantByAccessKey(ctx, "ak_1")
	if err != nil {
		t.Fatalf("after reopen: %v", err)
	}
	if got.ID != m.ID || got.SecretKey != "sk" || got.WebhookSecret != "wh" {
		t.Fatalf("after reopen: %+v", got)
	}
}

func TestOpenWithoutMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "paygate.db"), newSealer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.MerchantByID(ctx, 1); err == nil || paygate.ErrorCode(err) != paygate.EInternal {
		t.Fatalf("query before migrating: %v, want an internal error (no table)", err)
	}
	// Two migrations at once (two processes starting on a new file) both succeed.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { errs[i] = sqlite.Migrate(ctx, s.DB()) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	if _, err := s.MerchantByID(ctx, 1); paygate.ErrorCode(err) != paygate.ENotFound {
		t.Fatalf("query after migrating: %v, want not found", err)
	}
}

// TestSecretsSealed reads the raw columns: the secrets are not there in
// clear, and they open only in their own row and column.
func TestSecretsSealed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "paygate.db"))
	m := &paygate.Merchant{Name: "Shop", AccessKey: "ak_1", SecretKey: "sk_plain_secret", WebhookSecret: "whsec_plain"}
	if err := s.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	var secret, webhook string
	err := s.DB().QueryRowContext(ctx,
		`SELECT secret_key_sealed, webhook_secret_sealed FROM merchants WHERE id = ?`, m.ID).Scan(&secret, &webhook)
	if err != nil {
		t.Fatal(err)
	}
	sealer := newSealer(t)
	for _, c := range []struct{ raw, plain, context string }{
		{secret, m.SecretKey, "merchant:ak_1:secret_key"},
		{webhook, m.WebhookSecret, "merchant:ak_1:webhook_secret"},
	} {
		if !strings.HasPrefix(c.raw, "v1:") || strings.Contains(c.raw, c.plain) {
			t.Errorf("raw column %q is not a sealed value", c.raw)
		}
		if got, err := sealer.Open(c.raw, c.context); err != nil || got != c.plain {
			t.Errorf("Open(%q) = %q, %v; want %q", c.context, got, err, c.plain)
		}
	}
	if _, err := sealer.Open(secret, "merchant:ak_1:webhook_secret"); err == nil {
		t.Error("the secret key opens under the webhook secret's context")
	}
}

func TestOpenRejects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "x.db"), nil); err == nil {
		t.Error("Open without a sealer succeeded")
	}
	for _, path := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro"} {
		if _, err := sqlite.Open(ctx, path, newSealer(t)); err == nil {
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

// TestPreviousSecretsSealed: after a rotation with a grace, the replaced
// secrets are sealed too, under their own contexts, so that one copied into
// the current column does not open.
func TestPreviousSecretsSealed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "paygate.db"))
	m := &paygate.Merchant{Name: "Shop", AccessKey: "ak_1", SecretKey: "sk_plain_old", WebhookSecret: "whsec_plain_old"}
	if err := s.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := s.RotateMerchantSecrets(ctx, m.ID, paygate.SecretRotation{SecretKey: "sk_plain_new", SecretKeyGraceUntil: now.Add(time.Hour),
		WebhookSecret: "whsec_plain_new", WebhookSecretGraceUntil: now.Add(time.Hour), At: now}); err != nil {
		t.Fatal(err)
	}
	var prevSecret, prevWebhook string
	if err := s.DB().QueryRowContext(ctx, `SELECT previous_secret_key_sealed, previous_webhook_secret_sealed FROM merchants WHERE id = ?`,
		m.ID).Scan(&prevSecret, &prevWebhook); err != nil {
		t.Fatal(err)
	}
	sealer := newSealer(t)
	for _, c := range []struct{ raw, plain, context, current string }{
		{prevSecret, "sk_plain_old", "merchant:ak_1:previous_secret_key", "merchant:ak_1:secret_key"},
		{prevWebhook, "whsec_plain_old", "merchant:ak_1:previous_webhook_secret", "merchant:ak_1:webhook_secret"},
	} {
		if !strings.HasPrefix(c.raw, "v1:") || strings.Contains(c.raw, c.plain) {
			t.Errorf("raw column %q is not a sealed value", c.raw)
		}
		if got, err := sealer.Open(c.raw, c.context); err != nil || got != c.plain {
			t.Errorf("Open(%q) = %q, %v; want %q", c.context, got, err, c.plain)
		}
		if _, err := sealer.Open(c.raw, c.current); err == nil {
			t.Errorf("a previous secret opens under the current one's context %q", c.current)
		}
	}
}
