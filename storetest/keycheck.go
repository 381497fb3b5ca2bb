package storetest

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/paygate/paygate"
)

// Reopener opens the same database again, migrated, with the given sealer;
// the store is closed through t.Cleanup.
type Reopener func(sealer *paygate.Sealer) paygate.Store

// KeyCheck runs the master key check's behaviour (paygate.KeyChecker).
// newDB makes a new empty database for each subtest and returns how to open
// it.
func KeyCheck(t *testing.T, newDB func(t *testing.T) Reopener) {
	keyA, keyB := bytes.Repeat([]byte{0xa1}, paygate.MasterKeySize), bytes.Repeat([]byte{0xb2}, paygate.MasterKeySize)
	sealer := func(t *testing.T, key []byte) *paygate.Sealer {
		s, err := paygate.NewSealer(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	check := func(t *testing.T, s paygate.Store) error {
		kc, ok := s.(paygate.KeyChecker)
		if !ok {
			t.Fatalf("%T is not a paygate.KeyChecker", s)
		}
		return kc.CheckMasterKey(context.Background())
	}
	wantMismatch := func(t *testing.T, err error, want ...string) {
		t.Helper()
		if !errors.Is(err, paygate.ErrMasterKeyMismatch) {
			t.Fatalf("err = %v, want ErrMasterKeyMismatch", err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("err = %v, want it to say %q", err, w)
			}
		}
		for _, k := range [][]byte{keyA, keyB} {
			if strings.Contains(err.Error(), hex.EncodeToString(k)) {
				t.Errorf("err = %v shows a master key", err)
			}
		}
	}

	t.Run("RecordedAtFirstUse", func(t *testing.T) {
		t.Parallel()
		reopen := newDB(t)
		a, b := sealer(t, keyA), sealer(t, keyB)
		for range 2 {
			if err := check(t, reopen(a)); err != nil {
				t.Fatalf("the first key: %v", err)
			}
		}
		wantMismatch(t, check(t, reopen(b)), "key check "+b.KeyCheck(), a.KeyCheck())
		if err := check(t, reopen(a)); err != nil {
			t.Fatalf("the first key after a refused one: %v", err)
		}
	})

	t.Run("SealedBeforeKeyChecks", func(t *testing.T) {
		t.Parallel()
		reopen := newDB(t)
		a, b := sealer(t, keyA), sealer(t, keyB)
		// Secrets sealed before the check existed: no value recorded yet.
		m := &paygate.Merchant{Name: "Shop", AccessKey: randomID("ak_"), SecretKey: "sk", WebhookSecret: "wh"}
		if err := reopen(a).CreateMerchant(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		// Another key does not open them: refused, and nothing recorded...
		wantMismatch(t, check(t, reopen(b)), "1 of 1 merchants")
		// ...so the right key is still accepted, and now recorded.
		if err := check(t, reopen(a)); err != nil {
			t.Fatalf("the key that sealed the secrets: %v", err)
		}
		wantMismatch(t, check(t, reopen(b)), a.KeyCheck())
	})
}
