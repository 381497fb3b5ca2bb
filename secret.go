package paygate

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Sealer encrypts secrets at rest with AES-256-GCM under a master key. A
// sealed value is "v1:" + base64(nonce || ciphertext || tag); the version
// prefix leaves room for key rotation.
type Sealer struct {
	aead  cipher.AEAD
	check string // KeyCheck's value
}

// MasterKeySize is the master key's length in bytes (AES-256).
const MasterKeySize = 32

// NewSealer takes a 32-byte master key.
func NewSealer(masterKey []byte) (*Sealer, error) {
	if len(masterKey) != MasterKeySize {
		return nil, fmt.Errorf("master key is %d bytes; want %d", len(masterKey), MasterKeySize)
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, masterKey)
	mac.Write([]byte(keyCheckLabel))
	return &Sealer{aead: aead, check: hex.EncodeToString(mac.Sum(nil)[:keyCheckBytes])}, nil
}

// ParseMasterKey reads a master key written as 64 hex digits or as base64
// of 32 bytes, the forms configuration and environment variables carry.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if k, err := hex.DecodeString(s); err == nil && len(k) == MasterKeySize {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(s); err == nil && len(k) == MasterKeySize {
		return k, nil
	}
	return nil, errors.New("master key must be 32 bytes written as 64 hex digits or base64")
}

// Seal encrypts plaintext. The context binds the ciphertext to where it is
// stored (for example "merchant:ak_…:secret_key"), so a sealed value copied
// into another row does not open.
func (s *Sealer) Seal(plaintext, context string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := s.aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return "v1:" + base64.StdEncoding.EncodeToString(out), nil
}

// ErrSealedCorrupt means a sealed value did not open: wrong master key,
// wrong context, or tampering.
var ErrSealedCorrupt = errors.New("sealed secret does not open: wrong master key or corrupted value")

// Open decrypts a value made by Seal with the same context.
func (s *Sealer) Open(sealed, context string) (string, error) {
	b64, ok := strings.CutPrefix(sealed, "v1:")
	if !ok {
		return "", ErrSealedCorrupt
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) < s.aead.NonceSize()+s.aead.Overhead() {
		return "", ErrSealedCorrupt
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(context))
	if err != nil {
		return "", ErrSealedCorrupt
	}
	return string(plain), nil
}
