package paygate

import (
	"context"
	"errors"
	"fmt"
)

// The key check value: HMAC-SHA256 under the master key of a fixed label,
// truncated. It names a key without revealing it, so a store can remember
// which key sealed its secrets and a node started with another key can
// refuse at once instead of failing every call.
const (
	keyCheckLabel = "paygate key check v1"
	keyCheckBytes = 16
)

// KeyCheck is the master key's check value: 32 hex digits, the same for the
// same key, safe to store and to print.
func (s *Sealer) KeyCheck() string { return s.check }

// KeyChecker is a store that remembers which master key sealed its secrets.
// Both stores implement it.
type KeyChecker interface {
	// CheckMasterKey compares its sealer's key check value with the one
	// recorded at the database's first use. When none is recorded yet it
	// records it, but only if every secret already sealed in the database
	// opens with the key. Otherwise it fails with an error wrapping
	// ErrMasterKeyMismatch.
	CheckMasterKey(ctx context.Context) error
}

// ErrMasterKeyMismatch means the master key is not the one the database's
// secrets were sealed with; the error is a *KeyMismatchError.
var ErrMasterKeyMismatch = errors.New("the master key does not match the key this database was sealed with")

// KeyMismatchError says which key was given and which the database knows,
// by their check values, never the keys.
type KeyMismatchError struct {
	Given    string // the given key's check value
	Recorded string // the check value recorded at first use; "" when none was
	Failed   int    // with none recorded: merchants whose secrets do not open
	Total    int    // and merchants in all
}

// Detail is what tells the two keys apart, e.g. "key check 1a2b…, the
// database's 3c4d…".
func (e *KeyMismatchError) Detail() string {
	if e.Recorded != "" {
		return fmt.Sprintf("key check %s, the database's %s", e.Given, e.Recorded)
	}
	return fmt.Sprintf("key check %s; %d of %d merchants' secrets do not open with it", e.Given, e.Failed, e.Total)
}

func (e *KeyMismatchError) Error() string {
	return ErrMasterKeyMismatch.Error() + " (" + e.Detail() + ")"
}

// Is makes errors.Is(err, ErrMasterKeyMismatch) true.
func (e *KeyMismatchError) Is(target error) bool { return target == ErrMasterKeyMismatch }
