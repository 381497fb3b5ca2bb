package postgres

import (
	"context"
	"fmt"

	"github.com/paygate/paygate"
)

// Merchant secrets are sealed with a context naming their row and column,
// so a sealed value copied elsewhere does not open.
func secretKeyContext(accessKey string) string { return "merchant:" + accessKey + ":secret_key" }
func webhookSecretContext(accessKey string) string {
	return "merchant:" + accessKey + ":webhook_secret"
}

// CreateMerchant inserts m with its secrets sealed and sets m.ID (and
// m.CreatedAt when zero). A repeated access key is EConflict.
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
		INSERT INTO merchants (name, access_key, secret_key_sealed, webhook_secret_sealed, notify_url, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		m.Name, m.AccessKey, secret, webhook, m.NotifyURL, created).Scan(&id)
	if err != nil {
		return dbError(err, "merchant "+m.AccessKey)
	}
	m.ID, m.CreatedAt = id, created
	return nil
}

// MerchantByAccessKey returns the merchant with its secrets opened;
// ENotFound if there is none.
func (s *Store) MerchantByAccessKey(ctx context.Context, accessKey string) (*paygate.Merchant, error) {
	return s.merchant(ctx, "access_key = $1", accessKey, "merchant "+accessKey)
}

// MerchantByID returns the merchant with its secrets opened; ENotFound if
// there is none.
func (s *Store) MerchantByID(ctx context.Context, id int64) (*paygate.Merchant, error) {
	return s.merchant(ctx, "id = $1", id, fmt.Sprintf("merchant %d", id))
}

func (s *Store) merchant(ctx context.Context, where string, arg any, what string) (*paygate.Merchant, error) {
	var m paygate.Merchant
	var secret, webhook string
	err := s.pool.QueryRow(ctx, `
		SELECT id, name, access_key, secret_key_sealed, webhook_secret_sealed, notify_url, created_at
		FROM merchants WHERE `+where, arg).
		Scan(&m.ID, &m.Name, &m.AccessKey, &secret, &webhook, &m.NotifyURL, timeCol{&m.CreatedAt})
	if err != nil {
		return nil, dbError(err, what)
	}
	if m.SecretKey, err = s.sealer.Open(secret, secretKeyContext(m.AccessKey)); err != nil {
		return nil, fmt.Errorf("postgres: %s: secret key: %w", what, err)
	}
	if m.WebhookSecret, err = s.sealer.Open(webhook, webhookSecretContext(m.AccessKey)); err != nil {
		return nil, fmt.Errorf("postgres: %s: webhook secret: %w", what, err)
	}
	return &m, nil
}
