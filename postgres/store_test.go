package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/postgres/pgtest"
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

// open opens a store in a new schema; opts may ask it to migrate.
func open(t testing.TB, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	return pgtest.Open(t, newSealer(t), opts...)
}

func TestStore(t *testing.T) {
	t.Parallel()
	pgtest.URL(t)
	storetest.Run(t, func(t *testing.T) paygate.Store { return open(t, postgres.WithMigrate()) })
}

func TestKeyCheck(t *testing.T) {
	t.Parallel()
	pgtest.URL(t)
	storetest.KeyCheck(t, func(t *testing.T) storetest.Reopener {
		url, schema := pgtest.Schema(t)
		return func(sealer *paygate.Sealer) paygate.Store {
			s, err := postgres.Open(context.Background(), url, sealer, postgres.WithSearchPath(schema), postgres.WithMigrate())
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	})
}

// TestConcurrentMigrate starts two stores on one new schema that migrate at
// once, as replicas starting together do: both succeed, the schema once.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, schema := pgtest.Schema(t)
	stores := make([]*postgres.Store, 2)
	for i := range stores {
		s, err := postgres.Open(ctx, url, newSealer(t), postgres.WithSearchPath(schema))
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("store %d: migrate: %v", i, err)
		}
	}
	var applied int
	err := stores[0].DB().QueryRow(ctx,
		`SELECT count(*) FROM goose_db_version WHERE version_id = 1 AND is_applied`).Scan(&applied)
	if err != nil || applied != 1 {
		t.Fatalf("migration 1 recorded %d times (%v), want once", applied, err)
	}
	if _, err := stores[1].MerchantByID(ctx, 1); paygate.ErrorCode(err) != paygate.ENotFound {
		t.Fatalf("query after migrating: %v, want not found", err)
	}
}

func TestOpenWithoutMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t)
	if _, err := s.MerchantByID(ctx, 1); paygate.ErrorCode(err) != paygate.EInternal {
		t.Fatalf("query before migrating: %v, want an internal error (no table)", err)
	}
	if err := postgres.Migrate(ctx, s.DB()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping after migrating: %v (the pool must stay open)", err)
	}
}

// TestSecretsSealed reads the raw columns: the secrets are not there in
// clear, and they open only in their own row and column.
func TestSecretsSealed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, postgres.WithMigrate())
	m := &paygate.Merchant{Name: "Shop", AccessKey: "ak_1", SecretKey: "sk_plain_secret", WebhookSecret: "whsec_plain"}
	if err := s.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	var secret, webhook string
	err := s.DB().QueryRow(ctx,
		`SELECT secret_key_sealed, webhook_secret_sealed FROM merchants WHERE id = $1`, m.ID).Scan(&secret, &webhook)
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
	url := pgtest.URL(t)
	if _, err := postgres.Open(ctx, url, nil); err == nil {
		t.Error("Open without a sealer succeeded")
	}
	_, err := postgres.Open(ctx, "postgres://user:hunter2@[bad", newSealer(t))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open with a bad URL: %v; want an error that does not show the password", err)
	}
}

func TestPoolSize(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	for _, c := range []struct {
		url  string
		opts []postgres.Option
		want int32
	}{
		{url, nil, postgres.DefaultMaxConns},
		{url + sep(url) + "pool_max_conns=3", nil, 3},
		{url, []postgres.Option{postgres.WithMaxConns(4)}, 4},
	} {
		s, err := postgres.Open(ctx, c.url, newSealer(t), c.opts...)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		if got := s.DB().Config().MaxConns; got != c.want {
			t.Errorf("max conns = %d, want %d", got, c.want)
		}
		s.Close()
	}
}

func sep(url string) string {
	if strings.Contains(url, "?") {
		return "&"
	}
	return "?"
}

// TestPreviousSecretsSealed: after a rotation with a grace, the replaced
// secrets are sealed too, under their own contexts, so that one copied into
// the current column does not open.
func TestPreviousSecretsSealed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, postgres.WithMigrate())
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
	if err := s.DB().QueryRow(ctx, `SELECT previous_secret_key_sealed, previous_webhook_secret_sealed FROM merchants WHERE id = $1`,
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
