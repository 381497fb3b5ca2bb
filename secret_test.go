package paygate

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestSealer(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal("sk_secret", "merchant:ak1:secret_key")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains([]byte(sealed), []byte("sk_secret")) {
		t.Fatal("sealed value contains the plaintext")
	}
	if got, err := s.Open(sealed, "merchant:ak1:secret_key"); err != nil || got != "sk_secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open(sealed, "merchant:ak2:secret_key"); !errors.Is(err, ErrSealedCorrupt) {
		t.Errorf("other context: %v", err)
	}
	other, _ := NewSealer(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open(sealed, "merchant:ak1:secret_key"); !errors.Is(err, ErrSealedCorrupt) {
		t.Errorf("other key: %v", err)
	}
	tampered := []byte(sealed)
	tampered[len(tampered)-3] ^= 1
	if _, err := s.Open(string(tampered), "merchant:ak1:secret_key"); !errors.Is(err, ErrSealedCorrupt) {
		t.Errorf("tampered: %v", err)
	}
	if _, err := NewSealer(key[:16]); err == nil {
		t.Error("16-byte key accepted")
	}
	k, err := ParseMasterKey(hex.EncodeToString(key))
	if err != nil || !bytes.Equal(k, key) {
		t.Errorf("ParseMasterKey(hex) = %x, %v", k, err)
	}
	if _, err := ParseMasterKey("short"); err == nil {
		t.Error("short master key accepted")
	}
}

func TestKeyCheck(t *testing.T) {
	a1, _ := NewSealer(bytes.Repeat([]byte{1}, MasterKeySize))
	a2, _ := NewSealer(bytes.Repeat([]byte{1}, MasterKeySize))
	b, _ := NewSealer(bytes.Repeat([]byte{2}, MasterKeySize))
	if a1.KeyCheck() != a2.KeyCheck() {
		t.Error("one key, two check values")
	}
	if a1.KeyCheck() == b.KeyCheck() {
		t.Error("two keys, one check value")
	}
	if len(a1.KeyCheck()) != 2*keyCheckBytes || strings.Contains(a1.KeyCheck(), "0101") {
		t.Errorf("check value %q: want 32 hex digits that are not the key", a1.KeyCheck())
	}
}
