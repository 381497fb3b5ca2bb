package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/console"
)

// demoOperatorName is the demo console's admin.
const demoOperatorName = "admin"

// demoOperatorCreds is DIR/demo-operator.json.
type demoOperatorCreds struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// demoOperator makes sure the demo's admin can log in with the password in
// path: kept when the file still opens the account (it exists, is enabled,
// is an admin, and the password verifies), else the account is created, or
// given a new random password (enabled, admin, lockout lifted), and the
// file is rewritten (mode 0600).
func demoOperator(ctx context.Context, st paygate.Store, path string) (demoOperatorCreds, error) {
	var creds demoOperatorCreds
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return creds, fmt.Errorf("demo: %w", err)
	}
	existing, err := st.OperatorByUsername(ctx, demoOperatorName)
	if err != nil && paygate.ErrorCode(err) != paygate.ENotFound {
		return creds, fmt.Errorf("demo: operator: %w", err)
	}
	if existing != nil && data != nil && json.Unmarshal(data, &creds) == nil && creds.Username == demoOperatorName &&
		!existing.Disabled() && existing.Role == paygate.RoleAdmin {
		if ok, err := console.VerifyPassword(creds.Password, existing.PasswordHash); err == nil && ok {
			return creds, nil
		}
	}
	creds = demoOperatorCreds{Username: demoOperatorName, Password: console.RandomPassword()}
	hash, err := console.HashPassword(creds.Password, console.DefaultPasswordParams)
	if err != nil {
		return creds, err
	}
	now := time.Now()
	if existing == nil {
		err = st.CreateOperator(ctx, &paygate.Operator{Username: demoOperatorName, PasswordHash: hash,
			Role: paygate.RoleAdmin, CreatedAt: now})
	} else {
		existing.PasswordHash, existing.Role, existing.DisabledAt = hash, paygate.RoleAdmin, time.Time{}
		existing.FailedLogins, existing.LockedUntil = 0, time.Time{}
		existing.SessionsValidAfter, existing.UpdatedAt = now, now
		err = st.UpdateOperator(ctx, existing)
	}
	if err != nil {
		return creds, fmt.Errorf("demo: operator: %w", err)
	}
	out, err := json.MarshalIndent(creds, "", "  ")
	if err != nil {
		return creds, err
	}
	if err := writeFileAtomic(path, append(out, '\n'), 0o600); err != nil {
		return creds, fmt.Errorf("demo: %w", err)
	}
	return creds, nil
}
