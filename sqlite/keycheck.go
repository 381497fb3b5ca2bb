package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/paygate/paygate"
)

var _ paygate.KeyChecker = (*Store)(nil)

// CheckMasterKey implements paygate.KeyChecker. It runs in one transaction,
// which in SQLite holds the write lock from its start (BEGIN IMMEDIATE), so
// two processes starting together record one value.
func (s *Store) CheckMasterKey(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: key check: %w", err)
	}
	defer tx.Rollback()
	given := s.sealer.KeyCheck()
	var recorded string
	err = tx.QueryRowContext(ctx, `SELECT check_value FROM master_key_check WHERE id = 1`).Scan(&recorded)
	switch {
	case err == nil:
		if recorded != given {
			return &paygate.KeyMismatchError{Given: given, Recorded: recorded}
		}
		return nil
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlite: key check: %w", err)
	}
	if err := s.checkSealed(ctx, tx, given); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO master_key_check (id, check_value, created_at) VALUES (1, ?, ?)`,
		given, micros(s.now())); err != nil {
		return fmt.Errorf("sqlite: key check: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: key check: %w", err)
	}
	return nil
}

// checkSealed opens every merchant's sealed secrets with the key: a
// database sealed before key checks existed is accepted only if they all
// open.
func (s *Store) checkSealed(ctx context.Context, tx *sql.Tx, given string) error {
	rows, err := tx.QueryContext(ctx, `SELECT access_key, secret_key_sealed, webhook_secret_sealed FROM merchants`)
	if err != nil {
		return fmt.Errorf("sqlite: key check: %w", err)
	}
	defer rows.Close()
	failed, total := 0, 0
	for rows.Next() {
		var ak, secret, webhook string
		if err := rows.Scan(&ak, &secret, &webhook); err != nil {
			return fmt.Errorf("sqlite: key check: %w", err)
		}
		total++
		_, err1 := s.sealer.Open(secret, secretKeyContext(ak))
		_, err2 := s.sealer.Open(webhook, webhookSecretContext(ak))
		if err1 != nil || err2 != nil {
			failed++
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: key check: %w", err)
	}
	if failed > 0 {
		return &paygate.KeyMismatchError{Given: given, Failed: failed, Total: total}
	}
	return nil
}
