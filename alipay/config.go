package alipay

import (
	"errors"
	"fmt"
)

// Files names an app's keys on disk, as an operator configures them. Exactly
// one mode: AlipayPublicKeyFile (public-key mode) or the three certificate
// files (certificate mode).
type Files struct {
	PrivateKeyFile      string // app private key: PKCS#8 or PKCS#1, PEM or bare base64
	AlipayPublicKeyFile string // 支付宝公钥: PKIX, PEM or bare base64
	AppCertFile         string // appCertPublicKey_<appid>.crt
	AlipayCertFile      string // alipayCertPublicKey_RSA2.crt
	AlipayRootCertFile  string // alipayRootCert.crt
}

// Load reads the files into cfg's key fields. Every error names the file and
// the forms it accepts; no error ever contains key material.
func (f Files) Load(cfg *Config) error {
	if f.PrivateKeyFile == "" {
		return errors.New("alipay: app private key file is required")
	}
	key, err := LoadPrivateKey(f.PrivateKeyFile)
	if err != nil {
		return fmt.Errorf("alipay: %w", err)
	}
	cfg.PrivateKey = key
	certMode := f.AppCertFile != "" || f.AlipayCertFile != "" || f.AlipayRootCertFile != ""
	switch {
	case certMode && f.AlipayPublicKeyFile != "":
		return errors.New("alipay: configure either the Alipay public key file or the three certificate files, not both")
	case certMode:
		if f.AppCertFile == "" || f.AlipayCertFile == "" || f.AlipayRootCertFile == "" {
			return errors.New("alipay: certificate mode needs the app certificate, the Alipay certificate and the Alipay root certificate files")
		}
		cm, err := LoadCertMode(f.AppCertFile, f.AlipayCertFile, f.AlipayRootCertFile)
		if err != nil {
			return fmt.Errorf("alipay: %w", err)
		}
		cfg.Cert = cm
	case f.AlipayPublicKeyFile != "":
		pub, err := LoadPublicKey(f.AlipayPublicKeyFile)
		if err != nil {
			return fmt.Errorf("alipay: %w", err)
		}
		cfg.AlipayPublicKey = pub
	default:
		return errors.New("alipay: the Alipay public key file (or certificate mode's three files) is required")
	}
	return nil
}
