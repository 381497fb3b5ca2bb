// Key and certificate loading (§1.5, §1.7). Certificate SNs are computed
// independently with openssl: `x509 -issuer -nameopt RFC2253` for the issuer
// DN, `-serial` for the serial, `dgst -md5` for the digest.
package alipay_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/alipay"
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// wrap breaks s into lines of n characters joined by sep.
func wrap(s string, n int, sep string) string {
	var lines []string
	for len(s) > n {
		lines = append(lines, s[:n])
		s = s[n:]
	}
	return strings.Join(append(lines, s), sep)
}

func TestPrivateKeyForms(t *testing.T) {
	t.Parallel()
	want := stdPrivateKey(t, appPrivatePEM)
	bare8 := strings.TrimSpace(string(readFile(t, "testdata/app_private_key.txt")))
	bare1 := strings.TrimSpace(string(readFile(t, "testdata/app_private_key_pkcs1.txt")))
	if !strings.HasPrefix(bare8, "MIIE") || strings.ContainsAny(bare8, "\n-") || strings.ContainsAny(bare1, "\n-") {
		t.Fatal("testdata .txt keys must be one bare base64 line")
	}
	forms := map[string][]byte{
		"PKCS#8 PEM":                 readFile(t, "testdata/app_private_key.pem"),
		"PKCS#1 PEM":                 readFile(t, "testdata/app_private_key_pkcs1.pem"),
		"PKCS#8 bare":                []byte(bare8),
		"PKCS#1 bare":                []byte(bare1),
		"PKCS#8 bare, trailing NL":   []byte(bare8 + "\n"),
		"PKCS#8 bare, 64-col lines":  []byte(wrap(bare8, 64, "\n")),
		"PKCS#1 bare, 76-col CRLF":   []byte(wrap(bare1, 76, "\r\n") + "\r\n"),
		"PKCS#1 bare, spaces, tabs":  []byte("  " + wrap(bare1, 100, " \t") + "  "),
		"PKCS#8 PEM, CRLF, indented": []byte("\r\n  " + strings.ReplaceAll(string(readFile(t, "testdata/app_private_key.pem")), "\n", "\r\n")),
		"PKCS#1 PEM, no final NL":    []byte(strings.TrimSpace(string(readFile(t, "testdata/app_private_key_pkcs1.pem")))),
	}
	for name, data := range forms {
		k, err := alipay.ParsePrivateKey(data)
		if err != nil {
			t.Errorf("ParsePrivateKey(%s): %v", name, err)
		} else if !k.Equal(want) {
			t.Errorf("ParsePrivateKey(%s): a different key", name)
		}
		k, err = alipay.LoadPrivateKey(writeTemp(t, "key", data))
		if err != nil {
			t.Errorf("LoadPrivateKey(%s): %v", name, err)
		} else if !k.Equal(want) {
			t.Errorf("LoadPrivateKey(%s): a different key", name)
		}
	}
	for _, f := range []string{"app_private_key.pem", "app_private_key_pkcs1.pem", "app_private_key.txt", "app_private_key_pkcs1.txt"} {
		k, err := alipay.LoadPrivateKey(filepath.Join("testdata", f))
		if err != nil || !k.Equal(want) {
			t.Errorf("LoadPrivateKey(testdata/%s) = %v", f, err)
		}
	}
}

func TestPublicKeyForms(t *testing.T) {
	t.Parallel()
	want := stdPublicKey(t, alipayPublicPEM)
	bare := strings.TrimSpace(string(readFile(t, "testdata/alipay_public_key.txt")))
	if !strings.HasPrefix(bare, "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A") {
		t.Fatalf("alipay_public_key.txt is not bare PKIX base64: %.40s", bare)
	}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(want)})
	forms := map[string][]byte{
		"PKIX PEM":             readFile(t, alipayPublicPEM),
		"PKIX bare":            []byte(bare),
		"PKIX bare, wrapped":   []byte(wrap(bare, 64, "\n") + "\n"),
		"PKCS#1 PEM":           pkcs1,
		"PKCS#1 bare":          []byte(b64(x509.MarshalPKCS1PublicKey(want))),
		"certificate PEM":      certPEM(selfSigned(t, stdPrivateKey(t, alipayPrivatePEM), x509.SHA256WithRSA, antName("Ant Financial Certification Authority R1"), 7)),
		"certificate bare DER": []byte(b64(selfSigned(t, stdPrivateKey(t, alipayPrivatePEM), x509.SHA256WithRSA, antName("R"), 8).Raw)),
	}
	for name, data := range forms {
		k, err := alipay.ParsePublicKey(data)
		if err != nil {
			t.Errorf("ParsePublicKey(%s): %v", name, err)
		} else if !k.Equal(want) {
			t.Errorf("ParsePublicKey(%s): a different key", name)
		}
		k, err = alipay.LoadPublicKey(writeTemp(t, "pub", data))
		if err != nil || !k.Equal(want) {
			t.Errorf("LoadPublicKey(%s): %v", name, err)
		}
	}
	t.Run("openssl PKCS#1", func(t *testing.T) {
		needOpenSSL(t)
		// PKCS#1 public key as openssl writes it.
		out, err := runOpenSSL(t, nil, "rsa", "-pubin", "-in", alipayPublicPEM, "-RSAPublicKey_out")
		if err != nil {
			t.Fatal(err)
		}
		if k, err := alipay.ParsePublicKey(out); err != nil || !k.Equal(want) {
			t.Errorf("ParsePublicKey(openssl -RSAPublicKey_out): %v", err)
		}
	})
	// The testdata key files belong together.
	if !stdPrivateKey(t, appPrivatePEM).PublicKey.Equal(stdPublicKey(t, appPublicPEM)) ||
		!stdPrivateKey(t, alipayPrivatePEM).PublicKey.Equal(want) {
		t.Error("testdata public keys do not match their private keys")
	}
	if pub, err := alipay.LoadPublicKey("testdata/app_public_key.txt"); err != nil || alipay.PublicKeyBase64(pub) != strings.TrimSpace(string(readFile(t, "testdata/app_public_key.txt"))) {
		t.Errorf("PublicKeyBase64 does not reproduce app_public_key.txt: %v", err)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// keyErrorCase is a file LoadPrivateKey or LoadPublicKey must refuse.
type keyErrorCase struct {
	name  string
	data  []byte
	inErr []string // each must appear in the error
}

func TestLoadPrivateKeyErrors(t *testing.T) {
	t.Parallel()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	small8, _ := x509.MarshalPKCS8PrivateKey(small)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec8, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecSEC1, _ := x509.MarshalECPrivateKey(ec)
	forms := []string{"PKCS#8", "PKCS#1", "PEM", "base64"}
	cases := []keyErrorCase{
		{"public key file", readFile(t, appPublicPEM), forms},
		{"bare public key", readFile(t, "testdata/app_public_key.txt"), forms},
		{"garbage", []byte("this is not a key at all\n"), forms},
		{"base64 of junk", []byte("aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ="), forms},
		{"truncated PEM", readFile(t, appPrivatePEM)[:300], forms},
		{"1024-bit key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: small8}), append([]string{"1024", "2048"}, forms...)},
		{"1024-bit PKCS#1 bare", []byte(b64(x509.MarshalPKCS1PrivateKey(small))), append([]string{"1024"}, forms...)},
		{"EC key PKCS#8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ec8}), append([]string{"RSA"}, forms...)},
		{"EC key SEC1", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecSEC1}), forms},
		{"empty file", nil, append([]string{"empty"}, forms...)},
		{"whitespace only", []byte(" \n\t\r\n"), forms},
	}
	for i, tc := range cases {
		// A neutral file name, so the words looked for in the error come
		// from the message, not from the path.
		path := writeTemp(t, fmt.Sprintf("k%02d", i), tc.data)
		_, err := alipay.LoadPrivateKey(path)
		checkKeyError(t, "LoadPrivateKey", tc, path, err)
		if _, err := alipay.ParsePrivateKey(tc.data); err == nil {
			t.Errorf("ParsePrivateKey(%s) accepted it", tc.name)
		}
	}
	_, err = alipay.LoadPrivateKey(filepath.Join(t.TempDir(), "missing.pem"))
	if err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing file: err = %v; want the path named", err)
	}
}

func TestLoadPublicKeyErrors(t *testing.T) {
	t.Parallel()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecPub, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	cases := []keyErrorCase{
		{"PKCS#8 private key", readFile(t, appPrivatePEM), []string{"private key"}},
		{"PKCS#1 private key", readFile(t, "testdata/app_private_key_pkcs1.pem"), []string{"private key"}},
		{"bare private key", readFile(t, "testdata/app_private_key.txt"), []string{"private key"}},
		{"EC public key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecPub}), []string{"RSA", "PKIX"}},
		{"garbage", []byte("-----BEGIN PUBLIC KEY-----\nnope\n"), []string{"PKIX"}},
		{"empty file", nil, []string{"empty", "PKIX"}},
	}
	for i, tc := range cases {
		path := writeTemp(t, fmt.Sprintf("p%02d", i), tc.data)
		_, err := alipay.LoadPublicKey(path)
		checkKeyError(t, "LoadPublicKey", tc, path, err)
	}
}

// checkKeyError: an error, naming the file and the expected words, and never
// quoting key material.
func checkKeyError(t *testing.T, fn string, tc keyErrorCase, path string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s(%s) accepted it", fn, tc.name)
		return
	}
	msg := err.Error()
	if !strings.Contains(msg, path) {
		t.Errorf("%s(%s): error does not name the file %s: %v", fn, tc.name, path, msg)
	}
	var lacks []string
	for _, w := range tc.inErr {
		if !strings.Contains(msg, w) {
			lacks = append(lacks, w)
		}
	}
	if len(lacks) > 0 {
		t.Errorf("%s(%s): error lacks %q (it must say what is wrong and list the accepted forms): %v", fn, tc.name, lacks, msg)
	}
	for _, line := range strings.Split(string(tc.data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "-----") || len(line) < 16 {
			continue
		}
		for i := 0; i+16 <= len(line); i += 8 {
			if strings.Contains(msg, line[i:i+16]) {
				t.Errorf("%s(%s): error quotes the key's base64 %q: %v", fn, tc.name, line[i:i+16], msg)
				return
			}
		}
	}
}

// ---- certificates (§1.7) ----

// antName is the issuer shape of Alipay's CAs: C, O, OU, CN in DER order.
func antName(cn string) pkix.Name {
	return pkix.Name{Country: []string{"CN"}, Organization: []string{"Ant Financial"},
		OrganizationalUnit: []string{"Certification Authority"}, CommonName: cn}
}

func certTemplate(subject pkix.Name, serial int64, alg x509.SignatureAlgorithm, ca bool) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               subject,
		NotBefore:             time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2034, 1, 1, 0, 0, 0, 0, time.UTC),
		SignatureAlgorithm:    alg,
		IsCA:                  ca,
		BasicConstraintsValid: ca,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
}

func createCert(t testing.TB, tpl, parent *x509.Certificate, pub, signer any) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func selfSigned(t testing.TB, key *rsa.PrivateKey, alg x509.SignatureAlgorithm, subject pkix.Name, serial int64) *x509.Certificate {
	t.Helper()
	tpl := certTemplate(subject, serial, alg, true)
	return createCert(t, tpl, tpl, &key.PublicKey, key)
}

func certPEM(cs ...*x509.Certificate) []byte {
	var b []byte
	for _, c := range cs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return b
}

// opensslCertSN computes §1.7's SN with openssl only: MD5 hex of the RFC 2253
// issuer (openssl -nameopt RFC2253) followed by the decimal serial. It also
// returns the issuer string.
func opensslCertSN(t testing.TB, c *x509.Certificate) (sn, issuer string) {
	t.Helper()
	needOpenSSL(t)
	f := writeTemp(t, "cert.pem", certPEM(c))
	out, err := runOpenSSL(t, nil, "x509", "-in", f, "-noout", "-issuer", "-nameopt", "RFC2253")
	if err != nil {
		t.Fatal(err)
	}
	issuer, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "issuer=")
	if !ok {
		t.Fatalf("openssl -issuer: %q", out)
	}
	out, err = runOpenSSL(t, nil, "x509", "-in", f, "-noout", "-serial")
	if err != nil {
		t.Fatal(err)
	}
	hexSerial, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "serial=")
	serial, ok2 := new(big.Int).SetString(hexSerial, 16)
	if !ok || !ok2 {
		t.Fatalf("openssl -serial: %q", out)
	}
	out, err = runOpenSSL(t, []byte(issuer+serial.String()), "dgst", "-md5")
	if err != nil {
		t.Fatal(err)
	}
	_, digest, ok := strings.Cut(strings.TrimSpace(string(out)), "= ")
	if !ok || len(digest) != 32 {
		t.Fatalf("openssl dgst -md5: %q", out)
	}
	return digest, issuer
}

// rawName DER-encodes attributes in exactly the given order, one per RDN.
func rawName(t testing.TB, atvs ...pkix.AttributeTypeAndValue) []byte {
	t.Helper()
	var seq pkix.RDNSequence
	for _, a := range atvs {
		seq = append(seq, pkix.RelativeDistinguishedNameSET{a})
	}
	der, err := asn1.Marshal(seq)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

var (
	oidC  = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidO  = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidCN = asn1.ObjectIdentifier{2, 5, 4, 3}
)

func TestCertSN(t *testing.T) {
	needOpenSSL(t)
	t.Parallel()
	caKey := stdPrivateKey(t, alipayPrivatePEM)
	leafKey := stdPrivateKey(t, appPrivatePEM)
	tests := []struct {
		name       string
		caSubject  pkix.Name
		caRaw      func(t testing.TB) []byte // overrides caSubject's encoding
		wantIssuer string                    // hand-written RFC 2253 form
		serial     *big.Int
	}{
		{
			name:       "Ant Financial class 2",
			caSubject:  antName("Ant Financial Certification Authority Class 2 R1"),
			wantIssuer: "CN=Ant Financial Certification Authority Class 2 R1,OU=Certification Authority,O=Ant Financial,C=CN",
			serial:     new(big.Int).SetBytes([]byte{0x20, 0x24, 0x05, 0x13, 0x17, 0x49, 0x20, 0x01, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78}),
		},
		{
			// The iTrusChina root in alipayRootCert.crt has a comma in O.
			name: "comma in O",
			caSubject: pkix.Name{Country: []string{"CN"}, Organization: []string{"iTrusChina Co.,Ltd."},
				OrganizationalUnit: []string{"China Trust Network"}, CommonName: "iTrusChina Class 2 Root CA - G3"},
			wantIssuer: `CN=iTrusChina Class 2 Root CA - G3,OU=China Trust Network,O=iTrusChina Co.\,Ltd.,C=CN`,
			serial:     big.NewInt(0x7fffffffffffffff),
		},
		{
			// An issuer whose DER order is not Go's canonical C,O,OU,CN:
			// RFC 2253 (Java's getName, openssl) reverses the actual order.
			name: "non-canonical attribute order",
			caRaw: func(t testing.TB) []byte {
				return rawName(t,
					pkix.AttributeTypeAndValue{Type: oidCN, Value: "Ant Financial Certification Authority Class 2 R1"},
					pkix.AttributeTypeAndValue{Type: oidOU, Value: "Certification Authority"},
					pkix.AttributeTypeAndValue{Type: oidO, Value: "Ant Financial"},
					pkix.AttributeTypeAndValue{Type: oidC, Value: "CN"})
			},
			wantIssuer: "C=CN,O=Ant Financial,OU=Certification Authority,CN=Ant Financial Certification Authority Class 2 R1",
			serial:     big.NewInt(4242),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caTpl := certTemplate(tt.caSubject, 1, x509.SHA256WithRSA, true)
			if tt.caRaw != nil {
				caTpl.RawSubject = tt.caRaw(t)
			}
			ca := createCert(t, caTpl, caTpl, &caKey.PublicKey, caKey)
			leafTpl := certTemplate(pkix.Name{CommonName: goldenAppID}, 0, x509.SHA256WithRSA, false)
			leafTpl.SerialNumber = tt.serial
			leaf := createCert(t, leafTpl, ca, &leafKey.PublicKey, caKey)
			sn, issuer := opensslCertSN(t, leaf)
			if issuer != tt.wantIssuer {
				t.Fatalf("openssl issuer %q; the hand-written RFC 2253 form is %q", issuer, tt.wantIssuer)
			}
			if got := alipay.CertSN(leaf); got != sn {
				t.Errorf("CertSN = %s; openssl-derived MD5(%q + %s) = %s", got, issuer, tt.serial, sn)
			}
		})
	}
}

// TestCertSNZeroPadded: an SN whose MD5 starts with zero bytes keeps all 32
// hex digits ([EZ] pads Java's BigInteger hex).
func TestCertSNZeroPadded(t *testing.T) {
	needOpenSSL(t)
	t.Parallel()
	caKey := stdPrivateKey(t, alipayPrivatePEM)
	const issuer = "CN=Ant Financial Certification Authority Class 2 R1,OU=Certification Authority,O=Ant Financial,C=CN"
	// Find a serial whose SN starts with "00", searching with the openssl-
	// confirmed issuer string (checked below), then confirm with openssl.
	serial := int64(1)
	for ; ; serial++ {
		if sn := md5Hex(issuer + big.NewInt(serial).String()); strings.HasPrefix(sn, "00") {
			break
		}
	}
	ca := selfSigned(t, caKey, x509.SHA256WithRSA, antName("Ant Financial Certification Authority Class 2 R1"), 1)
	tpl := certTemplate(pkix.Name{CommonName: goldenAppID}, serial, x509.SHA256WithRSA, false)
	leaf := createCert(t, tpl, ca, &stdPrivateKey(t, appPrivatePEM).PublicKey, caKey)
	sn, gotIssuer := opensslCertSN(t, leaf)
	if gotIssuer != issuer || !strings.HasPrefix(sn, "00") {
		t.Fatalf("openssl: issuer %q sn %s", gotIssuer, sn)
	}
	if got := alipay.CertSN(leaf); got != sn || len(got) != 32 {
		t.Errorf("CertSN = %q; want %q (32 hex digits)", got, sn)
	}
}

// rootBundle is an alipayRootCert.crt look-alike: an RSA SHA256 root, an
// ECDSA root (stands for the SM2 one) and an RSA SHA1 root, in this order.
func rootBundle(t testing.TB) (bundle []byte, rsaRoots []*x509.Certificate) {
	t.Helper()
	key := stdPrivateKey(t, alipayPrivatePEM)
	r1 := selfSigned(t, key, x509.SHA256WithRSA, antName("Ant Financial Certification Authority R1"), 0x1001)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecTpl := certTemplate(antName("Ant Financial Certification Authority E1"), 0x1002, x509.ECDSAWithSHA256, true)
	e1 := createCert(t, ecTpl, ecTpl, &ecKey.PublicKey, ecKey)
	r2 := selfSigned(t, key, x509.SHA1WithRSA, pkix.Name{Country: []string{"CN"}, Organization: []string{"iTrusChina Co.,Ltd."},
		OrganizationalUnit: []string{"China Trust Network"}, CommonName: "iTrusChina Class 2 Root CA - G3"}, 0x1003)
	if r2.SignatureAlgorithm != x509.SHA1WithRSA {
		t.Fatalf("SHA1 root has %v", r2.SignatureAlgorithm)
	}
	return certPEM(r1, e1, r2), []*x509.Certificate{r1, r2}
}

func TestRootCertSN(t *testing.T) {
	needOpenSSL(t)
	t.Parallel()
	bundle, roots := rootBundle(t)
	sn1, _ := opensslCertSN(t, roots[0])
	sn2, _ := opensslCertSN(t, roots[1])
	want := sn1 + "_" + sn2
	got, err := alipay.RootCertSN(bundle)
	if err != nil || got != want {
		t.Errorf("RootCertSN = %q, %v; want %q (RSA roots in file order, ECDSA skipped)", got, err, want)
	}
	// CRLF line ends and text between the blocks, as some downloads have.
	messy := append([]byte("Alipay root certificates\r\n"), []byte(strings.ReplaceAll(string(bundle), "\n", "\r\n"))...)
	if got, err := alipay.RootCertSN(messy); err != nil || got != want {
		t.Errorf("RootCertSN(CRLF) = %q, %v; want %q", got, err, want)
	}
	// Only the ECDSA root: an error, not an empty SN.
	_, ecOnly, _ := strings.Cut(string(bundle), "-----END CERTIFICATE-----\n")
	ecOnly, _, _ = strings.Cut(ecOnly, "-----END CERTIFICATE-----\n")
	if got, err := alipay.RootCertSN([]byte(ecOnly + "-----END CERTIFICATE-----\n")); err == nil {
		t.Errorf("RootCertSN(ECDSA only) = %q; want an error", got)
	}
}

func TestLoadCertMode(t *testing.T) {
	needOpenSSL(t)
	t.Parallel()
	caKey := stdPrivateKey(t, alipayPrivatePEM)
	ca := selfSigned(t, caKey, x509.SHA256WithRSA, antName("Ant Financial Certification Authority Class 2 R1"), 2)
	appCert := createCert(t, certTemplate(pkix.Name{CommonName: goldenAppID}, 0x5a5a5a5a5a, x509.SHA256WithRSA, false), ca, &stdPrivateKey(t, appPrivatePEM).PublicKey, caKey)
	aliCert := createCert(t, certTemplate(pkix.Name{CommonName: "支付宝(中国)网络技术有限公司"}, 0x77777777, x509.SHA256WithRSA, false), ca, stdPublicKey(t, alipayPublicPEM), caKey)
	bundle, roots := rootBundle(t)

	dir := t.TempDir()
	appPath := filepath.Join(dir, "appCertPublicKey_2021000000000001.crt")
	aliPath := filepath.Join(dir, "alipayCertPublicKey_RSA2.crt")
	rootPath := filepath.Join(dir, "alipayRootCert.crt")
	for p, data := range map[string][]byte{appPath: certPEM(appCert), aliPath: certPEM(aliCert), rootPath: bundle} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cm, err := alipay.LoadCertMode(appPath, aliPath, rootPath)
	if err != nil {
		t.Fatal(err)
	}
	appSN, _ := opensslCertSN(t, appCert)
	aliSN, _ := opensslCertSN(t, aliCert)
	r1, _ := opensslCertSN(t, roots[0])
	r2, _ := opensslCertSN(t, roots[1])
	if cm.AppCertSN != appSN || cm.AlipayCertSN != aliSN || cm.AlipayRootCertSN != r1+"_"+r2 {
		t.Errorf("LoadCertMode = app %s alipay %s root %s; want %s %s %s", cm.AppCertSN, cm.AlipayCertSN, cm.AlipayRootCertSN, appSN, aliSN, r1+"_"+r2)
	}
	if !cm.AlipayPublicKey.Equal(stdPublicKey(t, alipayPublicPEM)) {
		t.Error("AlipayPublicKey is not the Alipay certificate's key")
	}
	// The SNs are sent and signed with every request.
	c := goldenClient(t, time.Now(), cm)
	p, err := c.Params(alipay.MethodQuery, []byte(`{"out_trade_no":"T1"}`), "")
	if err != nil || p.Get("app_cert_sn") != appSN || p.Get("alipay_root_cert_sn") != r1+"_"+r2 ||
		!strings.HasPrefix(alipay.SignContent(p, "sign"), "alipay_root_cert_sn="+r1+"_"+r2+"&app_cert_sn="+appSN+"&app_id=") {
		t.Errorf("Params in cert mode = %v, %v", p, err)
	}

	// Each failing file is named in the error.
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecLeaf := createCert(t, certTemplate(pkix.Name{CommonName: "ec"}, 9, x509.SHA256WithRSA, false), ca, &ecKey.PublicKey, caKey)
	garbage := writeTemp(t, "garbage.crt", []byte("not a certificate"))
	ecPath := writeTemp(t, "ec_alipay.crt", certPEM(ecLeaf))
	noRSARoot := writeTemp(t, "ec_root.crt", certPEM(createCert(t, certTemplate(antName("E"), 3, x509.ECDSAWithSHA256, true), certTemplate(antName("E"), 3, x509.ECDSAWithSHA256, true), &ecKey.PublicKey, ecKey)))
	missing := filepath.Join(dir, "missing.crt")
	for _, tc := range []struct {
		name           string
		app, ali, root string
		bad            string
	}{
		{"garbage app cert", garbage, aliPath, rootPath, garbage},
		{"garbage alipay cert", appPath, garbage, rootPath, garbage},
		{"garbage root", appPath, aliPath, garbage, garbage},
		{"missing app cert", missing, aliPath, rootPath, missing},
		{"missing root", appPath, aliPath, missing, missing},
		{"EC alipay cert", appPath, ecPath, rootPath, ecPath},
		{"root without RSA", appPath, aliPath, noRSARoot, noRSARoot},
	} {
		_, err := alipay.LoadCertMode(tc.app, tc.ali, tc.root)
		if err == nil || !strings.Contains(err.Error(), tc.bad) {
			t.Errorf("%s: err = %v; want it to name %s", tc.name, err, tc.bad)
		}
	}
}
