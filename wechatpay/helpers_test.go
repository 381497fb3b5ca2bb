package wechatpay_test

import (
	"crypto/rsa"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paygate/paygate/wechatpay"
)

// Test keys under testdata (test-only; see testdata/README.md).
const (
	merchantKeyPEM      = "testdata/merchant_private_key.pem"
	merchantKeyPKCS1PEM = "testdata/merchant_private_key_pkcs1.pem"
	merchantPubPEM      = "testdata/merchant_public_key.pem"
	merchantCertPEM     = "testdata/merchant_cert.pem"
	platformKeyPEM      = "testdata/wechatpay_private_key.pem"
	platformCertPEM     = "testdata/wechatpay_platform_cert.pem"
	pubModeKeyPEM       = "testdata/wechatpay_pubkey_mode_private_key.pem"
	pubModePubPEM       = "testdata/wechatpay_pubkey_mode_public_key.pem"
	apiv3KeyFile        = "testdata/apiv3_key.txt"
	merchantSerial      = "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567"
	platformSerial      = "477ED0046A54F0360A72A63A8F2816312AAEAB53"
	pubKeyID            = "PUB_KEY_ID_0000000000000024101100397200000006"
	testMchID           = "1900000001"
	testAppID           = "wxd678efh567hg6787"
	testNotifyURL       = "https://shop.example/wechat/notify"
)

func mustKey(t testing.TB, path string) *rsa.PrivateKey {
	t.Helper()
	k, err := wechatpay.LoadPrivateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustAPIv3Key(t testing.TB) wechatpay.APIv3Key {
	t.Helper()
	k, err := wechatpay.LoadAPIv3Key(apiv3KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// platformSigner signs as WeChat Pay's platform certificate.
func platformSigner(t testing.TB) wechatpay.Signer {
	return wechatpay.Signer{ID: platformSerial, Key: mustKey(t, platformKeyPEM)}
}

// pubModeSigner signs as WeChat Pay's public key (public-key mode).
func pubModeSigner(t testing.TB) wechatpay.Signer {
	return wechatpay.Signer{ID: pubKeyID, Key: mustKey(t, pubModeKeyPEM)}
}

// wechatKeys are both WeChat Pay keys as a merchant configures them.
func wechatKeys(t testing.TB) []wechatpay.PublicKey {
	t.Helper()
	cert, err := wechatpay.LoadPlatformCertificate(platformCertPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := wechatpay.LoadPublicKey(pubModePubPEM, pubKeyID)
	if err != nil {
		t.Fatal(err)
	}
	return []wechatpay.PublicKey{cert, pub}
}

// golden reads a "-- name --" sectioned file (the alipay golden format).
func golden(t testing.TB, name string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{}
	cur := ""
	var buf []string
	flush := func() {
		if cur != "" {
			sections[cur] = strings.Join(buf, "\n")
		}
		buf = nil
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if strings.HasPrefix(line, "-- ") && strings.HasSuffix(line, " --") && len(line) > 6 {
			flush()
			cur = line[3 : len(line)-3]
			continue
		}
		buf = append(buf, line)
	}
	flush()
	return sections
}
