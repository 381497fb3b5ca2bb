package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/paygate/paygate"
)

var _ paygate.KeyChecker = (*Store)(nil)

// CheckMasterKey implements paygate.KeyChecker. Replicas starting together
// may both find no value and both insert: the insert does nothing on a
// conflict, and each compares with the value that won.
func (s *Store) CheckMasterKey(ctx context.Context) error {
	given := s.sealer.KeyCheck()
	recorded, err := s.keyCheck(ctx)
	if err != nil {
		return err
	}
	if recorded == "" {
		if err := s.checkSealed(ctx, given); err != nil {
			return err
		}
		if _, err := s.pool.Exec(ctx, `INSERT INTO master_key_check (id, check_value, created_at) VALUES (1, $1, $2)
ON CONFLICT (id) DO NOTHING`, given, s.now()); err != nil {
			return fmt.Errorf("postgres: key check: %w", err)
		}
		if recorded, err = s.keyCheck(ctx); err != nil {
			return err
		}
	}
	if recorded != given {
		return &paygate.KeyMismatchError{Given: given, Recorded: recorded}
	}
	return nil
}

// keyCheck is the recorded check value, "" when there is none.
func (s *Store) keyCheck(ctx context.Context) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT check_value FROM master_key_check WHERE id = 1`).Scan(&v)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("postgres: key check: %w", err)
	}
	return v, nil
}

// checkSealed opens every merchant's sealed secrets with the key: a
// database sealed before key checks existed is accepted only if they all
// open.
func (s *Store) checkSealed(ctx context.Context, given string) error {
	rows, err := s.pool.Query(ctx, `SELECT access_key, secret_key_sealed, webhook_secret_sealed FROM merchants`)
	if err != nil {
		return fmt.Errorf("postgres: key check: %w", err)
	}
	defer rows.Close()
	failed, total := 0, 0
	for rows.Next() {
		var ak, secret, webhook string
		if err := rows.Scan(&ak, &secret, &webhook); err != nil {
			return fmt.Errorf("postgres: key check: %w", err)
		}
		total++
		_, err1 := s.sealer.Open(secret, secretKeyContext(ak))
		_, err2 := s.sealer.Open(webhook, webhookSecretContext(ak))
		if err1 != nil || err2 != nil {
			failed++
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: key check: %w", err)
	}
	if failed > 0 {
		return &paygate.KeyMismatchError{Given: given, Failed: failed, Total: total}
	}
	return nil
}
