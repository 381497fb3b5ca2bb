package wechatpay_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paygate/paygate/wechatpay"
)

func TestLoadKeys(t *testing.T) {
	t.Parallel()
	k8 := mustKey(t, merchantKeyPEM)
	k1 := mustKey(t, merchantKeyPKCS1PEM)
	if !k8.Equal(k1) {
		t.Error("the PKCS#8 and PKCS#1 files of one key load differently")
	}
	pub, err := wechatpay.LoadPublicKey(merchantPubPEM, pubKeyID)
	if err != nil || !pub.Key.Equal(&k8.PublicKey) {
		t.Errorf("public key: %v", err)
	}
	cert, err := wechatpay.LoadPlatformCertificate(platformCertPEM)
	if err != nil || cert.ID != platformSerial || !cert.Key.Equal(&mustKey(t, platformKeyPEM).PublicKey) {
		t.Errorf("platform certificate %q: %v", cert.ID, err)
	}
	if s, err := wechatpay.LoadCertificateSerial(merchantCertPEM); err != nil || s != merchantSerial {
		t.Errorf("merchant serial %q, %v", s, err)
	}
}

func TestLoadKeysRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	priv, _ := os.ReadFile(merchantKeyPEM)
	if _, err := wechatpay.LoadPrivateKey(write("pub.pem", mustRead(t, merchantPubPEM))); err == nil {
		t.Error("a public key loaded as the private key")
	}
	if _, err := wechatpay.LoadPrivateKey(write("junk.pem", "not a key")); err == nil {
		t.Error("junk loaded")
	}
	_, err := wechatpay.LoadPublicKey(write("priv.pem", string(priv)), pubKeyID)
	if err == nil || !strings.Contains(err.Error(), "private key") {
		t.Errorf("a private key as the public key: %v", err)
	} else if strings.Contains(err.Error(), "MII") {
		t.Error("the error shows key material")
	}
	for _, id := range []string{"", "PUB_KEY_ID_", "PUB_KEY_ID_12ab", "pub_key_id_0001", platformSerial} {
		if _, err := wechatpay.LoadPublicKey(merchantPubPEM, id); err == nil {
			t.Errorf("public key ID %q accepted", id)
		}
	}
	if _, err := wechatpay.LoadPrivateKey(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("a missing file loaded")
	}
}

func TestAPIv3Key(t *testing.T) {
	t.Parallel()
	k := mustAPIv3Key(t)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %s %x %d %#v %+v", k, k, k, k, k, k), fmt.Sprintf("%v", struct{ K wechatpay.APIv3Key }{k})} {
		if strings.Contains(s, "paygate") || strings.Contains(s, "7061") || !strings.Contains(s, "redacted") {
			t.Errorf("the key prints as %q", s)
		}
	}
	if _, err := wechatpay.ParseAPIv3Key([]byte("0123456789abcdef0123456789abcdef\n")); err != nil {
		t.Errorf("trailing newline: %v", err)
	}
	for _, n := range []int{0, 16, 24, 31, 33} {
		_, err := wechatpay.ParseAPIv3Key([]byte(strings.Repeat("k", n)))
		if err == nil {
			t.Errorf("a %d-byte key accepted", n)
		} else if n > 0 && strings.Contains(err.Error(), "kkkk") {
			t.Errorf("the error shows the key: %v", err)
		}
	}
}

func mustRead(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
