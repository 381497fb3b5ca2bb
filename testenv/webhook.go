package testenv

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pyVerify verifies a webhook as standardwebhooks.com describes it, with
// nothing but Python's standard library: an implementation that shares no
// code with paygate's. Its input is the environment (the secrets and the
// headers) and the body's file; it prints "ok" or exits 1 saying why.
const pyVerify = `
import base64, hashlib, hmac, os, sys
body = open(sys.argv[1], "rb").read()
e = os.environ
std = e["STD_SECRET"]
if std:
    key = base64.b64decode(std[len("whsec_"):] if std.startswith("whsec_") else std)
    msg = e["WEBHOOK_ID"].encode() + b"." + e["WEBHOOK_TIMESTAMP"].encode() + b"." + body
    want = base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()
    if not any(s.split(",", 1)[0] == "v1" and hmac.compare_digest(s.split(",", 1)[1], want)
               for s in e["WEBHOOK_SIGNATURE"].split(" ") if "," in s):
        sys.exit("standard webhooks: no v1 signature matches")
pg = e["PAYGATE_SECRET"]
if pg:
    parts = [p.split("=", 1) for p in e["PAYGATE_SIGNATURE"].split(",")]
    ts = [v for k, v in parts if k == "t"][0]
    want = hmac.new(pg.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not any(k == "v1" and hmac.compare_digest(v, want) for k, v in parts):
        sys.exit("Paygate-Signature: no v1 signature matches")
print("ok")
`

// VerifyWebhookInPython checks a webhook's signatures with an independent
// implementation in python3: the Standard Webhooks headers of h with
// standardSecret (the whsec_ base64 form; empty: not checked), and its
// Paygate-Signature with paygateSecret (empty: not checked). It returns nil
// when every check passes, an error with Python's reason otherwise. Without
// python3 t is skipped, whatever the environment: the check is a second
// opinion, not the test's only one.
func VerifyWebhookInPython(t testing.TB, standardSecret, paygateSecret string, h http.Header, body []byte) error {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the independent webhook check is skipped")
	}
	file := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", pyVerify, file)
	cmd.Env = append(os.Environ(),
		"STD_SECRET="+standardSecret, "PAYGATE_SECRET="+paygateSecret,
		"WEBHOOK_ID="+h.Get("webhook-id"), "WEBHOOK_TIMESTAMP="+h.Get("webhook-timestamp"),
		"WEBHOOK_SIGNATURE="+h.Get("webhook-signature"), "PAYGATE_SIGNATURE="+h.Get("Paygate-Signature"))
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		return fmt.Errorf("python3: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
