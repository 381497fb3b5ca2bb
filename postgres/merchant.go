package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/paygate/paygate"
)

// Merchant secrets are sealed with a context naming their row and column,
// so a sealed value copied elsewhere (the previous secret into the current
// column included) does not open.
func secretKeyContext(accessKey string) string { return "merchant:" + accessKey + ":secret_key" }
func webhookSecretContext(accessKey string) string {
	return "merchant:" + accessKey + ":webhook_secret"
}
func previousSecretKeyContext(accessKey string) string {
	return "merchant:" + accessKey + ":previous_secret_key"
}
func previousWebhookSecretContext(accessKey string) string {
	return "merchant:" + accessKey + ":previous_webhook_secret"
}

// CreateMerchant inserts m with its secrets sealed and sets m.ID (and
// m.CreatedAt when zero; m.UpdatedAt to m.CreatedAt). A repeated access key
// is EConflict. A new merchant is enabled and has no previous secrets.
func (s *Store) CreateMerchant(ctx context.Context, m *paygate.Merchant) error {
	secret, err := s.sealer.Seal(m.SecretKey, secretKeyContext(m.AccessKey))
	if err != nil {
		return fmt.Errorf("postgres: seal secret key: %w", err)
	}
	webhook, err := s.sealer.Seal(m.WebhookSecret, webhookSecretContext(m.AccessKey))
	if err != nil {
		return fmt.Errorf("postgres: seal webhook secret: %w", err)
	}
	created := orNow(m.CreatedAt, s.now)
	var id int64
	err = s.pool.QueryRow(ctx, `
		INSERT INTO merchants (name, access_key, secret_key_sealed, webhook_secret_sealed, notify_url, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`,
		m.Name, m.AccessKey, secret, webhook, m.NotifyURL, created).Scan(&id)
	if err != nil {
		return dbError(err, "merchant "+m.AccessKey)
	}
	m.ID, m.CreatedAt, m.UpdatedAt = id, created, created
	m.DisabledAt, m.PreviousSecretKey, m.PreviousSecretUntil = time.Time{}, "", time.Time{}
	m.PreviousWebhookSecret, m.PreviousWebhookSecretUntil = "", time.Time{}
	return nil
}

// MerchantByAccessKey returns the merchant with its secrets opened;
// ENotFound if there is none.
func (s *Store) MerchantByAccessKey(ctx context.Context, accessKey string) (*paygate.Merchant, error) {
	return s.merchant(ctx, s.pool, "access_key = $1", accessKey, "merchant "+accessKey)
}

// MerchantByID returns the merchant with its secrets opened; ENotFound if
// there is none.
func (s *Store) MerchantByID(ctx context.Context, id int64) (*paygate.Merchant, error) {
	return s.merchant(ctx, s.pool, "id = $1", id, fmt.Sprintf("merchant %d", id))
}

// merchantColumns are read by scanMerchant, secrets sealed.
const merchantColumns = `id, name, access_key, notify_url, created_at, updated_at, disabled_at,
	secret_key_sealed, webhook_secret_sealed,
	previous_secret_key_sealed, previous_secret_key_until, previous_webhook_secret_sealed, previous_webhook_secret_until`

// sealedSecrets are a merchant row's secrets as stored.
type sealedSecrets struct {
	secret, webhook, prevSecret, prevWebhook string
}

func scanMerchant(row scanner, m *paygate.Merchant, sealed *sealedSecrets) error {
	return row.Scan(&m.ID, &m.Name, &m.AccessKey, &m.NotifyURL, timeCol{&m.CreatedAt}, timeCol{&m.UpdatedAt}, timeCol{&m.DisabledAt},
		&sealed.secret, &sealed.webhook,
		&sealed.prevSecret, timeCol{&m.PreviousSecretUntil}, &sealed.prevWebhook, timeCol{&m.PreviousWebhookSecretUntil})
}

// merchant reads one merchant; suffix ends the query (FOR UPDATE in a
// transaction).
func (s *Store) merchant(ctx context.Context, q querier, where string, arg any, what string, suffix ...string) (*paygate.Merchant, error) {
	var m paygate.Merchant
	var sealed sealedSecrets
	query := `SELECT ` + merchantColumns + ` FROM merchants WHERE ` + where
	for _, s := range suffix {
		query += " " + s
	}
	if err := scanMerchant(q.QueryRow(ctx, query, arg), &m, &sealed); err != nil {
		return nil, dbError(err, what)
	}
	if err := s.openSecrets(&m, sealed); err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	return &m, nil
}

// openSecrets opens the four sealed secrets into m; an empty previous one
// stays empty.
func (s *Store) openSecrets(m *paygate.Merchant, sealed sealedSecrets) error {
	var err error
	if m.SecretKey, err = s.sealer.Open(sealed.secret, secretKeyContext(m.AccessKey)); err != nil {
		return fmt.Errorf("secret key: %w", err)
	}
	if m.WebhookSecret, err = s.sealer.Open(sealed.webhook, webhookSecretContext(m.AccessKey)); err != nil {
		return fmt.Errorf("webhook secret: %w", err)
	}
	if sealed.prevSecret != "" {
		if m.PreviousSecretKey, err = s.sealer.Open(sealed.prevSecret, previousSecretKeyContext(m.AccessKey)); err != nil {
			return fmt.Errorf("previous secret key: %w", err)
		}
	}
	if sealed.prevWebhook != "" {
		if m.PreviousWebhookSecret, err = s.sealer.Open(sealed.prevWebhook, previousWebhookSecretContext(m.AccessKey)); err != nil {
			return fmt.Errorf("previous webhook secret: %w", err)
		}
	}
	return nil
}
