// Cross-checks against independent implementations: openssl for
// SHA256withRSA and certificate serials, python3's cryptography for
// AES-256-GCM. Nothing here compares the package with itself.
package wechatpay_test

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/testenv"
	"github.com/paygate/paygate/wechatpay"
)

func openssl(t testing.TB, stdin []byte, args ...string) ([]byte, error) {
	t.Helper()
	testenv.LookPath(t, "openssl")
	cmd := exec.Command("openssl", args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &exec.ExitError{ProcessState: cmd.ProcessState, Stderr: stderr.Bytes()}
	}
	return out, nil
}

// opensslSign is `openssl dgst -sha256 -sign key | base64`.
func opensslSign(t testing.TB, keyFile string, content []byte) string {
	t.Helper()
	in := filepath.Join(t.TempDir(), "content")
	if err := os.WriteFile(in, content, 0o600); err != nil {
		t.Fatal(err)
	}
	sig, err := openssl(t, nil, "dgst", "-sha256", "-sign", keyFile, in)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// opensslVerify is `openssl dgst -sha256 -verify pub -signature sig`.
func opensslVerify(t testing.TB, pubFile string, content []byte, sign string) bool {
	t.Helper()
	dir := t.TempDir()
	in, sigFile := filepath.Join(dir, "content"), filepath.Join(dir, "sig")
	sig, err := base64.StdEncoding.DecodeString(sign)
	if err != nil {
		t.Fatalf("signature is not base64: %v", err)
	}
	if err := os.WriteFile(in, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sigFile, sig, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := openssl(t, nil, "dgst", "-sha256", "-verify", pubFile, "-signature", sigFile, in)
	return err == nil && strings.Contains(string(out), "Verified OK")
}

// requestCases are requests of every shape the client sends.
var requestCases = []struct{ method, url, body string }{
	{"POST", "/v3/pay/transactions/native", `{"appid":"wxd678efh567hg6787","mchid":"1900000001","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://shop.example/wechat/notify","amount":{"total":100,"currency":"CNY"}}`},
	{"GET", "/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1900000001", ""},
	{"POST", "/v3/pay/transactions/out-trade-no/PG-1/close", `{"mchid":"1900000001"}`},
	{"GET", "/v3/bill/tradebill?bill_date=2024-05-18&bill_type=ALL&tar_type=GZIP", ""},
	{"GET", "/v3/certificates", ""},
}

// A request signature made here verifies with openssl, and is openssl's own
// byte for byte (PKCS#1 v1.5 is deterministic).
func TestOpenSSLVerifiesRequestSignature(t *testing.T) {
	t.Parallel()
	key := mustKey(t, merchantKeyPEM)
	for _, c := range requestCases {
		a, err := wechatpay.SignRequest(key, testMchID, merchantSerial, c.method, c.url, []byte(c.body), time.Unix(1716000000, 0))
		if err != nil {
			t.Fatal(err)
		}
		// The message as the fact sheet spells it (§2.1), not as the package builds it.
		msg := c.method + "\n" + c.url + "\n1716000000\n" + a.NonceStr + "\n" + c.body + "\n"
		if !opensslVerify(t, merchantPubPEM, []byte(msg), a.Signature) {
			t.Errorf("%s %s: openssl rejects the request signature", c.method, c.url)
		}
		if want := opensslSign(t, merchantKeyPEM, []byte(msg)); a.Signature != want {
			t.Errorf("%s %s: signature differs from openssl's", c.method, c.url)
		}
		if opensslVerify(t, merchantPubPEM, []byte(msg+"x"), a.Signature) {
			t.Errorf("%s %s: openssl verified the signature over other content", c.method, c.url)
		}
	}
}

// A request signed by openssl passes the server-side VerifyRequest, and an
// answer signed by openssl passes the Verifier, in both key modes.
func TestOpenSSLSignatureVerifiesHere(t *testing.T) {
	t.Parallel()
	merchantPub := &mustKey(t, merchantKeyPEM).PublicKey
	lookup := func(mchID, serial string) (*rsa.PublicKey, error) { return merchantPub, nil }
	now := time.Unix(1716000000, 0)
	for _, c := range requestCases {
		msg := c.method + "\n" + c.url + "\n1716000000\nNONCE0123456789abcdefghijklmnopq\n" + c.body + "\n"
		header := `WECHATPAY2-SHA256-RSA2048 mchid="1900000001",nonce_str="NONCE0123456789abcdefghijklmnopq",timestamp="1716000000",serial_no="` +
			merchantSerial + `",signature="` + opensslSign(t, merchantKeyPEM, []byte(msg)) + `"`
		if _, err := wechatpay.VerifyRequest(header, c.method, c.url, []byte(c.body), lookup, now); err != nil {
			t.Errorf("%s %s: openssl's request signature is refused: %v", c.method, c.url, err)
		}
	}
	v, err := wechatpay.NewVerifier(func() time.Time { return now }, wechatKeys(t)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []struct{ id, key string }{{platformSerial, platformKeyPEM}, {pubKeyID, pubModeKeyPEM}} {
		for _, body := range []string{"", `{"code_url":"weixin://wxpay/bizpayurl?pr=JyC91EIz1"}`, `{"trade_state":"SUCCESS","trade_state_desc":"支付成功"}`} {
			h := http.Header{}
			h.Set(wechatpay.HeaderTimestamp, "1716000000")
			h.Set(wechatpay.HeaderNonce, "c5ac7061fccab6bf3e254dcf98995b8c")
			h.Set(wechatpay.HeaderSerial, mode.id)
			h.Set(wechatpay.HeaderSignature, opensslSign(t, mode.key, []byte("1716000000\nc5ac7061fccab6bf3e254dcf98995b8c\n"+body+"\n")))
			if serial, err := v.Verify(h, []byte(body)); err != nil || serial != mode.id {
				t.Errorf("%s body %q: openssl's answer signature: serial %q, %v", mode.id, body, serial, err)
			}
		}
	}
}

// An answer signed here (the simulator's side) verifies with openssl.
func TestOpenSSLVerifiesAnswerSignature(t *testing.T) {
	t.Parallel()
	pubFile := filepath.Join(t.TempDir(), "platform_pub.pem")
	out, err := openssl(t, nil, "x509", "-in", platformCertPEM, "-noout", "-pubkey")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubFile, out, 0o600); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"code_url":"weixin://wxpay/bizpayurl?pr=JyC91EIz1"}`)
	h := http.Header{}
	if err := platformSigner(t).SignHeaders(h, body, time.Unix(1716000000, 0)); err != nil {
		t.Fatal(err)
	}
	msg := h.Get(wechatpay.HeaderTimestamp) + "\n" + h.Get(wechatpay.HeaderNonce) + "\n" + string(body) + "\n"
	if !opensslVerify(t, pubFile, []byte(msg), h.Get(wechatpay.HeaderSignature)) {
		t.Fatal("openssl rejects the answer signature")
	}
	if h.Get(wechatpay.HeaderTimestamp) != "1716000000" || h.Get(wechatpay.HeaderSerial) != platformSerial ||
		h.Get(wechatpay.HeaderSignatureType) != wechatpay.AuthScheme || len(h.Get(wechatpay.HeaderNonce)) != 32 {
		t.Fatalf("answer headers %v", h)
	}
}

// The certificate serial is what openssl prints, leading zero included.
func TestOpenSSLCertificateSerial(t *testing.T) {
	t.Parallel()
	for _, f := range []string{merchantCertPEM, platformCertPEM} {
		out, err := openssl(t, nil, "x509", "-in", f, "-noout", "-serial")
		if err != nil {
			t.Fatal(err)
		}
		want := strings.TrimPrefix(strings.TrimSpace(string(out)), "serial=")
		got, err := wechatpay.LoadCertificateSerial(f)
		if err != nil || got != want {
			t.Errorf("%s: serial %q, %v; openssl says %q", f, got, err, want)
		}
	}
}

// Resources sealed by python3's cryptography (stored as known-answer files,
// and sealed afresh when python3 has the module) decrypt here, and ours
// decrypt there.
func TestAESGCMIndependent(t *testing.T) {
	t.Parallel()
	key := mustAPIv3Key(t)
	for _, name := range []string{"resource_transaction.golden", "resource_refund.golden", "resource_empty_aad.golden"} {
		g := golden(t, name)
		plain, err := wechatpay.DecryptResource(key, wechatpay.Resource{Algorithm: wechatpay.AlgorithmAESGCM,
			Nonce: g["nonce"], AssociatedData: g["associated_data"], Ciphertext: g["ciphertext"]})
		if err != nil || string(plain) != g["plaintext"] {
			t.Errorf("%s: %q, %v", name, plain, err)
		}
	}
	py, err := exec.LookPath("python3")
	if err != nil || exec.Command(py, "-c", "import cryptography").Run() != nil {
		t.Log("python3 with cryptography is missing: only the stored known answers were checked")
		return
	}
	keyBytes, _ := os.ReadFile(apiv3KeyFile)
	for i, plain := range []string{`{"a":"支付成功"}`, "", strings.Repeat("x", 1000)} {
		aad := []string{"transaction", "refund", ""}[i]
		res, err := wechatpay.EncryptResource(key, "transaction", aad, []byte(plain))
		if err != nil {
			t.Fatal(err)
		}
		const script = `
import base64, os, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
e = os.environ
k = AESGCM(e["KEY"].encode())
pt = k.decrypt(e["NONCE"].encode(), base64.b64decode(e["CT"]), e["AAD"].encode())
sys.stdout.write(base64.b64encode(pt).decode() + "\n")
nonce = b"pynonce12345"
sys.stdout.write(base64.b64encode(k.encrypt(nonce, pt, e["AAD"].encode())).decode())
`
		cmd := exec.Command(py, "-c", script)
		cmd.Env = append(os.Environ(), "KEY="+string(keyBytes), "NONCE="+res.Nonce, "CT="+res.Ciphertext, "AAD="+aad)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("python3 cannot decrypt our resource %d: %v", i, err)
		}
		lines := strings.Split(string(out), "\n")
		if got, _ := base64.StdEncoding.DecodeString(lines[0]); string(got) != plain {
			t.Errorf("resource %d: python3 decrypted %q", i, got)
		}
		back, err := wechatpay.DecryptResource(key, wechatpay.Resource{Algorithm: wechatpay.AlgorithmAESGCM,
			Nonce: "pynonce12345", AssociatedData: aad, Ciphertext: lines[1]})
		if err != nil || string(back) != plain {
			t.Errorf("resource %d: python3's sealing decrypts to %q, %v", i, back, err)
		}
	}
}
