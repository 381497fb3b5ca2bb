package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are argon2id's cost parameters. They are written into
// every hash (a PHC string), so they can be raised later: a hash made with
// older parameters still verifies with its own.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultPasswordParams suit a small server (2 cores): 64 MiB, 2 passes,
// 2 lanes. On this project's 2-core build machine one hash takes about the
// time reported in the README; a login costs one hash.
var DefaultPasswordParams = PasswordParams{Memory: 64 << 10, Time: 2, Threads: 2}

// TestPasswordParams are cheap, for tests only: they protect nothing.
var TestPasswordParams = PasswordParams{Memory: 64, Time: 1, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
	// MinPasswordLength is the shortest password accepted.
	MinPasswordLength = 12
	// MaxPasswordLength bounds what is hashed, so a huge body cannot make
	// a login expensive.
	MaxPasswordLength = 256
)

// CheckPassword refuses a password that is too short or too long.
func CheckPassword(pw string) error {
	switch {
	case len(pw) < MinPasswordLength:
		return fmt.Errorf("a password needs at least %d characters", MinPasswordLength)
	case len(pw) > MaxPasswordLength:
		return fmt.Errorf("a password has at most %d bytes", MaxPasswordLength)
	}
	return nil
}

// HashPassword returns the PHC string of password under p with a fresh
// random salt: $argon2id$v=19$m=65536,t=2,p=2$<salt>$<hash> (unpadded
// base64).
func HashPassword(password string, p PasswordParams) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// errBadHash is a stored hash this package cannot read.
var errBadHash = errors.New("console: the stored password hash is not an argon2id PHC string")

// maxHashMemory bounds the memory a stored hash may ask for (1 GiB), so a
// tampered row cannot exhaust the node.
const maxHashMemory = 1 << 20

// VerifyPassword reports whether password matches the PHC string hash,
// comparing in constant time. An unreadable hash is an error.
func VerifyPassword(password, hash string) (bool, error) {
	p, salt, want, err := parseHash(hash)
	if err != nil {
		return false, err
	}
	if len(password) > MaxPasswordLength {
		return false, nil
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// parseHash reads $argon2id$v=19$m=…,t=…,p=…$salt$hash.
func parseHash(hash string) (PasswordParams, []byte, []byte, error) {
	var p PasswordParams
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil ||
		p.Memory == 0 || p.Memory > maxHashMemory || p.Time == 0 || p.Time > 100 || p.Threads == 0 {
		return p, nil, nil, errBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, errBadHash
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

// RandomPassword is a strong password to print once: 20 characters from a
// 56-character alphabet without look-alikes (about 116 bits).
func RandomPassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	// 256 is not a multiple of 56: reject the top of the range to keep
	// every character equally likely.
	out := make([]byte, 0, len(b))
	for len(out) < 20 {
		for _, c := range b {
			if int(c) < 256-256%len(alphabet) && len(out) < 20 {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
		if _, err := rand.Read(b); err != nil {
			panic(err)
		}
	}
	return string(out)
}
