package alipay

import (
	"crypto/md5"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// CertSN is Alipay's certificate serial: lower-case hex MD5 of the issuer DN
// in RFC 2253 form followed by the serial number in decimal (§1.7).
//
// The issuer DN is rendered from the certificate's raw issuer in its own
// attribute order, reversed (RFC 2253, as Java's getName() and openssl's
// -nameopt RFC2253 write it). pkix.Name.String() would not do: it rebuilds the
// name in Go's fixed attribute order and drops what it does not model.
func CertSN(c *x509.Certificate) string {
	issuer := c.Issuer.String()
	var rdn pkix.RDNSequence
	if rest, err := asn1.Unmarshal(c.RawIssuer, &rdn); err == nil && len(rest) == 0 {
		issuer = rdn.String()
	}
	sum := md5.Sum([]byte(issuer + c.SerialNumber.String()))
	return hex.EncodeToString(sum[:])
}

// RootCertSN is alipay_root_cert_sn: the SNs of the RSA certificates in an
// Alipay root bundle, joined with "_" in file order. Certificates signed with
// other algorithms (the SM2/ECC roots), or that Go cannot parse, are skipped.
func RootCertSN(bundle []byte) (string, error) {
	var sns []string
	rest := bundle
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil || !rsaSigned(c) {
			continue
		}
		sns = append(sns, CertSN(c))
	}
	if len(sns) == 0 {
		return "", errors.New("no RSA certificate in the root bundle; want alipayRootCert.crt (PEM certificates)")
	}
	return strings.Join(sns, "_"), nil
}

// rsaSigned reports whether c's signature algorithm is one of the RSA PKCS#1
// family (OID 1.2.840.113549.1.1.*).
func rsaSigned(c *x509.Certificate) bool {
	switch c.SignatureAlgorithm {
	case x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA, x509.SHA256WithRSA,
		x509.SHA384WithRSA, x509.SHA512WithRSA, x509.SHA256WithRSAPSS,
		x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS:
		return true
	}
	return false
}

// ParseCertificate reads one PEM (or bare base64 DER) certificate.
func ParseCertificate(data []byte) (*x509.Certificate, error) {
	der, err := keyDER(data)
	if err != nil {
		return nil, fmt.Errorf("not a certificate: %w; want an X.509 certificate in PEM", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, errors.New("not a certificate; want an X.509 certificate in PEM")
	}
	return c, nil
}

// CertMode holds what certificate mode (公钥证书) needs: the SNs sent with each
// request and the Alipay certificate that verifies responses.
type CertMode struct {
	AppCertSN        string         // app_cert_sn, from appCertPublicKey_<appid>.crt
	AlipayRootCertSN string         // alipay_root_cert_sn, from alipayRootCert.crt
	AlipayCertSN     string         // SN of alipayCertPublicKey_RSA2.crt
	AlipayPublicKey  *rsa.PublicKey // from alipayCertPublicKey_RSA2.crt
	AlipayCert       *x509.Certificate
}

// LoadCertMode reads the three certificate files Alipay's console gives an app
// in certificate mode. Errors name the file at fault.
func LoadCertMode(appCertPath, alipayCertPath, rootCertPath string) (*CertMode, error) {
	readCert := func(what, path string) (*x509.Certificate, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", what, err)
		}
		c, err := ParseCertificate(data)
		if err != nil {
			return nil, fmt.Errorf("%s file %s: %w", what, path, err)
		}
		return c, nil
	}
	appCert, err := readCert("app certificate", appCertPath)
	if err != nil {
		return nil, err
	}
	alipayCert, err := readCert("Alipay certificate", alipayCertPath)
	if err != nil {
		return nil, err
	}
	pub, ok := alipayCert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("Alipay certificate file %s: key is not RSA", alipayCertPath)
	}
	bundle, err := os.ReadFile(rootCertPath)
	if err != nil {
		return nil, fmt.Errorf("read Alipay root certificate: %w", err)
	}
	rootSN, err := RootCertSN(bundle)
	if err != nil {
		return nil, fmt.Errorf("Alipay root certificate file %s: %w", rootCertPath, err)
	}
	return &CertMode{
		AppCertSN:        CertSN(appCert),
		AlipayRootCertSN: rootSN,
		AlipayCertSN:     CertSN(alipayCert),
		AlipayPublicKey:  pub,
		AlipayCert:       alipayCert,
	}, nil
}
