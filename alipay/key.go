package alipay

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// Accepted forms, named in every key error so a user knows what to hand us.
const (
	privateKeyForms = "RSA private key as PKCS#8 or PKCS#1, PEM or bare base64 (as Alipay's key tool writes it)"
	publicKeyForms  = "RSA public key as X.509 SubjectPublicKeyInfo (PKIX) or PKCS#1, PEM or bare base64, or an X.509 certificate"
)

// ParsePrivateKey reads an app private key in any form people have: PKCS#8 or
// PKCS#1, PEM-wrapped or the bare base64 line Alipay's key tool prints (§1.5).
// The error never contains key material.
func ParsePrivateKey(data []byte) (*rsa.PrivateKey, error) {
	der, err := keyDER(data)
	if err != nil {
		return nil, fmt.Errorf("not a private key: %w; want %s", err, privateKeyForms)
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("private key is %T, not RSA; want %s", k, privateKeyForms)
		}
		return withBits(rk, rk.N.BitLen())
	}
	if rk, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return withBits(rk, rk.N.BitLen())
	}
	return nil, fmt.Errorf("not a private key: neither PKCS#8 nor PKCS#1; want %s", privateKeyForms)
}

// ParsePublicKey reads Alipay's public key (or an app public key): PKIX or
// PKCS#1, PEM or bare base64, or the public key of an X.509 certificate.
func ParsePublicKey(data []byte) (*rsa.PublicKey, error) {
	der, err := keyDER(data)
	if err != nil {
		return nil, fmt.Errorf("not a public key: %w; want %s", err, publicKeyForms)
	}
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key is %T, not RSA; want %s", k, publicKeyForms)
		}
		return withBits(rk, rk.N.BitLen())
	}
	if rk, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return withBits(rk, rk.N.BitLen())
	}
	if c, err := x509.ParseCertificate(der); err == nil {
		rk, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("certificate key is %T, not RSA; want %s", c.PublicKey, publicKeyForms)
		}
		return withBits(rk, rk.N.BitLen())
	}
	if _, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return nil, errors.New("this is a private key where a public key was expected")
	}
	if _, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return nil, errors.New("this is a private key where a public key was expected")
	}
	return nil, fmt.Errorf("not a public key; want %s", publicKeyForms)
}

// LoadPrivateKey reads ParsePrivateKey's forms from a file; errors name the file.
func LoadPrivateKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", err)
	}
	k, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("private key file %s: %w", path, err)
	}
	return k, nil
}

// LoadPublicKey reads ParsePublicKey's forms from a file; errors name the file.
func LoadPublicKey(path string) (*rsa.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read public key: %w", err)
	}
	k, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("public key file %s: %w", path, err)
	}
	return k, nil
}

// PublicKeyBase64 is the bare base64 PKIX line that Alipay's console shows
// and asks for.
func PublicKeyBase64(pub *rsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err) // cannot fail for an RSA key
	}
	return base64.StdEncoding.EncodeToString(der)
}

// keyDER unwraps PEM, or decodes bare base64 with any whitespace in it.
func keyDER(data []byte) ([]byte, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, errors.New("empty")
	}
	if bytes.HasPrefix(data, []byte("-----BEGIN")) {
		block, _ := pem.Decode(data)
		if block == nil {
			return nil, errors.New("malformed PEM")
		}
		if _, ok := block.Headers["Proc-Type"]; ok {
			return nil, errors.New("encrypted PEM is not supported; decrypt it first")
		}
		return block.Bytes, nil
	}
	clean := make([]byte, 0, len(data))
	for _, b := range data {
		switch b {
		case ' ', '\t', '\r', '\n':
		default:
			clean = append(clean, b)
		}
	}
	der, err := base64.StdEncoding.DecodeString(string(clean))
	if err != nil {
		return nil, errors.New("neither PEM nor valid base64")
	}
	return der, nil
}

func checkBits(n int) error {
	if n < 2048 {
		return fmt.Errorf("RSA key is %d bits; RSA2 needs at least 2048", n)
	}
	return nil
}

// withBits returns k, or an error when its modulus is too short for RSA2.
func withBits[K any](k K, bits int) (K, error) {
	if err := checkBits(bits); err != nil {
		var zero K
		forms := publicKeyForms
		if _, private := any(k).(*rsa.PrivateKey); private {
			forms = privateKeyForms
		}
		return zero, fmt.Errorf("%w; want a 2048-bit (or larger) %s", err, forms)
	}
	return k, nil
}
