// openssl cross-checks: signatures made by this package must verify with
// openssl, and openssl's must verify here. openssl is the independent
// implementation of SHA256withRSA (RSA2) that Alipay's own SDKs agree with.
package alipay_test

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/testenv"
)

// needOpenSSL skips the test when openssl is missing (CI has it); with
// -update a missing openssl is an error, since goldens cannot be refreshed.
func needOpenSSL(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil && *update {
		t.Fatal("-update needs openssl on PATH")
	}
	testenv.LookPath(t, "openssl")
}

func runOpenSSL(t testing.TB, stdin []byte, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &opensslError{args: args, err: err, stderr: stderr.String(), stdout: string(out)}
	}
	return out, nil
}

type opensslError struct {
	args           []string
	err            error
	stderr, stdout string
}

func (e *opensslError) Error() string {
	return "openssl " + strings.Join(e.args, " ") + ": " + e.err.Error() + ": " + e.stdout + e.stderr
}

// opensslSign is `openssl dgst -sha256 -sign keyFile | base64 -w0` over content.
func opensslSign(t testing.TB, keyFile string, content []byte) string {
	t.Helper()
	needOpenSSL(t)
	in := filepath.Join(t.TempDir(), "content")
	if err := os.WriteFile(in, content, 0o600); err != nil {
		t.Fatal(err)
	}
	sig, err := runOpenSSL(t, nil, "dgst", "-sha256", "-sign", keyFile, in)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// opensslVerify is `openssl dgst -sha256 -verify pubFile -signature sig.bin`.
func opensslVerify(t testing.TB, pubFile string, content []byte, sign string) error {
	t.Helper()
	needOpenSSL(t)
	dir := t.TempDir()
	in, sigFile := filepath.Join(dir, "content"), filepath.Join(dir, "sig.bin")
	sig, err := base64.StdEncoding.DecodeString(sign)
	if err != nil {
		return err
	}
	if err := os.WriteFile(in, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sigFile, sig, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runOpenSSL(t, nil, "dgst", "-sha256", "-verify", pubFile, "-signature", sigFile, in)
	if err != nil {
		return err
	}
	if !strings.Contains(string(out), "Verified OK") {
		return &opensslError{args: []string{"dgst", "-verify"}, err: os.ErrInvalid, stdout: string(out)}
	}
	return nil
}

// randomContent is a string to sign of typical shape and length, with
// Chinese, the separators that matter (& = + / space), quotes and newlines.
func randomContent(r *rand.Rand) string {
	pieces := []string{
		"app_id=2021000000000001", "&", "=", "+", "/", " ", "%2B", `"`, "{", "}", "[", "]", ":", ",",
		"\n", "\t", "订单支付", "收银台", "拿铁咖啡", "¥", "😀", "biz_content=", "total_amount", "0.01",
		"a", "b", "Z", "0", "9", "\\", "\\/", "&amp;", "&quot;",
	}
	n := r.IntN(120)
	var b strings.Builder
	for range n {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

func TestOpenSSLSignAndVerify(t *testing.T) {
	needOpenSSL(t)
	t.Parallel()
	// Keys as this package loads them, from the bare PKCS#1 line and the PEM.
	key, err := alipay.LoadPrivateKey("testdata/app_private_key_pkcs1.txt")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := alipay.LoadPublicKey("testdata/app_public_key.txt")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(20240513, 174920))
	contents := []string{"", "a", "订单支付", "app_id=2021000000000001&biz_content={\"subject\":\"收银台 a+b=c&d/e\"}&sign_type=RSA2"}
	for range 20 {
		contents = append(contents, randomContent(r))
	}
	for i, content := range contents {
		// openssl signs, this package verifies.
		osig := opensslSign(t, appPrivatePEM, []byte(content))
		if err := alipay.Verify(pub, []byte(content), osig); err != nil {
			t.Errorf("content %d %q: openssl's signature does not verify: %v", i, content, err)
		}
		if err := alipay.Verify(pub, []byte(content+"x"), osig); err == nil {
			t.Errorf("content %d: openssl's signature verified over other content", i)
		}
		// This package signs, openssl verifies; PKCS#1 v1.5 is deterministic,
		// so both must even be the same bytes.
		gsig, err := alipay.Sign(key, []byte(content))
		if err != nil {
			t.Fatal(err)
		}
		if gsig != osig {
			t.Errorf("content %d: Sign differs from openssl\n got %s\nwant %s", i, gsig, osig)
		}
		if err := opensslVerify(t, appPublicPEM, []byte(content), gsig); err != nil {
			t.Errorf("content %d %q: openssl rejects Sign's signature: %v", i, content, err)
		}
		if err := opensslVerify(t, alipayPublicPEM, []byte(content), gsig); err == nil {
			t.Errorf("content %d: openssl verified with the wrong public key", i)
		}
	}
}

func TestOpenSSLRequestSignature(t *testing.T) {
	needOpenSSL(t)
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5 {
		c := goldenClient(t, time.Now(), nil)
		biz, err := alipay.MarshalBizContent(alipay.PrecreateRequest{
			OutTradeNo: "PG" + time.Now().Format("20060102150405"), TotalAmount: paygate.Money(1 + r.Int64N(1e10)),
			Subject: randomContent(r), Body: randomContent(r), ProductCode: alipay.ProductFaceToFace,
		})
		if err != nil {
			t.Fatal(err)
		}
		params, err := c.Params(alipay.MethodPrecreate, biz, goldenNotifyURL)
		if err != nil {
			t.Fatal(err)
		}
		content := alipay.SignContent(params, "sign")
		if err := opensslVerify(t, appPublicPEM, []byte(content), params.Get("sign")); err != nil {
			t.Errorf("request %d: openssl rejects the request signature: %v\ncontent %s", i, err, content)
		}
	}
}
