package wechatpay

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// PublicKeyIDPrefix starts the ID of a WeChat Pay public key (public-key
// mode, fact sheet §3.3); a platform certificate is named by its serial.
const PublicKeyIDPrefix = "PUB_KEY_ID_"

// PublicKey is one key WeChat Pay signs answers and notifications with, named
// as the Wechatpay-Serial header names it: a platform certificate's serial
// (40 upper-case hex digits) or a public key's PUB_KEY_ID_… ID.
type PublicKey struct {
	ID  string
	Key *rsa.PublicKey
}

// ParsePrivateKey reads the merchant API private key (apiclient_key.pem): an
// RSA key of at least 2048 bits in a PEM block, PKCS#8 ("PRIVATE KEY", what
// WeChat Pay issues) or PKCS#1 ("RSA PRIVATE KEY"). Errors never contain key
// material.
func ParsePrivateKey(data []byte) (*rsa.PrivateKey, error) {
	block, err := onePEM(data)
	if err != nil {
		return nil, fmt.Errorf("not a private key: %w; want an RSA private key in PEM (PKCS#8 or PKCS#1)", err)
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("private key is %T, not RSA", k)
		}
		key = rk
	} else if rk, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		key = rk
	} else {
		return nil, errors.New("not a private key: the PEM block is neither PKCS#8 nor PKCS#1")
	}
	if err := checkBits(key.N.BitLen()); err != nil {
		return nil, err
	}
	return key, nil
}

// ParsePublicKey reads an RSA public key (the WeChat Pay public key of
// public-key mode): PEM "PUBLIC KEY" (PKIX) or "RSA PUBLIC KEY" (PKCS#1).
func ParsePublicKey(data []byte) (*rsa.PublicKey, error) {
	block, err := onePEM(data)
	if err != nil {
		return nil, fmt.Errorf("not a public key: %w; want an RSA public key in PEM", err)
	}
	var key *rsa.PublicKey
	if k, err := x509.ParsePKIXPublicKey(block.Bytes); err == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key is %T, not RSA", k)
		}
		key = rk
	} else if rk, err := x509.ParsePKCS1PublicKey(block.Bytes); err == nil {
		key = rk
	} else if strings.Contains(block.Type, "PRIVATE") {
		return nil, errors.New("this is a private key where a public key was expected")
	} else {
		return nil, errors.New("not a public key: the PEM block is neither PKIX nor PKCS#1")
	}
	if err := checkBits(key.N.BitLen()); err != nil {
		return nil, err
	}
	return key, nil
}

// ParseCertificate reads an X.509 certificate in PEM: the merchant API
// certificate (apiclient_cert.pem) or a WeChat Pay platform certificate.
func ParseCertificate(data []byte) (*x509.Certificate, error) {
	block, err := onePEM(data)
	if err != nil {
		return nil, fmt.Errorf("not a certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a certificate: %w", err)
	}
	if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("certificate key is %T, not RSA", cert.PublicKey)
	}
	return cert, nil
}

// CertificateSerial is cert's serial number as WeChat Pay writes it in
// serial_no and Wechatpay-Serial: the serial's big-endian bytes in upper-case
// hex (the official SDK's fmt "%X" over SerialNumber.Bytes()).
func CertificateSerial(cert *x509.Certificate) string {
	return fmt.Sprintf("%X", cert.SerialNumber.Bytes())
}

// PlatformCertificate is the verifying key of a platform certificate, named
// by its serial. Validity dates are not checked here: WeChat Pay names the
// certificate it signed with, and rotation is the operator's (§3.2).
func PlatformCertificate(cert *x509.Certificate) PublicKey {
	return PublicKey{ID: CertificateSerial(cert), Key: cert.PublicKey.(*rsa.PublicKey)}
}

// CheckPublicKeyID rejects an ID that is not PUB_KEY_ID_ followed by digits,
// the form the merchant platform shows (§3.3: 34 digits in samples; the
// length is not enforced, only the shape).
func CheckPublicKeyID(id string) error {
	digits, ok := strings.CutPrefix(id, PublicKeyIDPrefix)
	if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
		return fmt.Errorf("public key ID %q is not %s followed by digits, as the merchant platform shows it", id, PublicKeyIDPrefix)
	}
	return nil
}

// LoadPrivateKey reads ParsePrivateKey's forms from a file; errors name the
// file, never its content.
func LoadPrivateKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read merchant private key: %w", err)
	}
	k, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("merchant private key file %s: %w", path, err)
	}
	return k, nil
}

// LoadCertificateSerial reads the merchant API certificate and returns its
// serial, the serial_no every request names.
func LoadCertificateSerial(path string) (string, error) {
	cert, err := loadCertificate(path)
	if err != nil {
		return "", err
	}
	return CertificateSerial(cert), nil
}

// LoadPlatformCertificate reads a WeChat Pay platform certificate file.
func LoadPlatformCertificate(path string) (PublicKey, error) {
	cert, err := loadCertificate(path)
	if err != nil {
		return PublicKey{}, err
	}
	return PlatformCertificate(cert), nil
}

// LoadPublicKey reads a WeChat Pay public key file (public-key mode) and
// pairs it with its ID.
func LoadPublicKey(path, id string) (PublicKey, error) {
	if err := CheckPublicKeyID(id); err != nil {
		return PublicKey{}, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return PublicKey{}, fmt.Errorf("read WeChat Pay public key: %w", err)
	}
	k, err := ParsePublicKey(data)
	if err != nil {
		return PublicKey{}, fmt.Errorf("WeChat Pay public key file %s: %w", path, err)
	}
	return PublicKey{ID: id, Key: k}, nil
}

func loadCertificate(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	cert, err := ParseCertificate(data)
	if err != nil {
		return nil, fmt.Errorf("certificate file %s: %w", path, err)
	}
	return cert, nil
}

// onePEM decodes the first PEM block of data and refuses encrypted ones.
func onePEM(data []byte) (*pem.Block, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if _, ok := block.Headers["Proc-Type"]; ok {
		return nil, errors.New("encrypted PEM is not supported; decrypt it first")
	}
	return block, nil
}

func checkBits(n int) error {
	if n < 2048 {
		return fmt.Errorf("RSA key is %d bits; WECHATPAY2-SHA256-RSA2048 needs at least 2048", n)
	}
	return nil
}
