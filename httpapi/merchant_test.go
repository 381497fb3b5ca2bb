package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/gateway"
)

// admin is merchant administration on the fixture's store, wired as the
// node wires it: changes reach this server's merchant cache at once.
func (f *fixture) admin() *gateway.Merchants {
	return &gateway.Merchants{Store: f.store, Now: f.clock.Now, Changed: f.api.ForgetMerchant}
}

// status sends a list request signed with secret and returns its status.
func (f *fixture) status(t *testing.T, secret string) int {
	t.Helper()
	status, _, _ := f.send(t, req{path: listPath, secret: secret})
	return status
}

// TestAuthRotationGrace: after a rotation made in this process, requests
// signed with the new secret pass at once, and with the old one until the
// grace ends, not after.
func TestAuthRotationGrace(t *testing.T) {
	t.Parallel()
	f := setup(t)
	if s := f.status(t, secretKey); s != http.StatusOK { // the merchant is now cached
		t.Fatalf("before the rotation: %d", s)
	}
	r, err := f.admin().Rotate(context.Background(), accessKey, gateway.Rotate{SecretKey: true, Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{0, 59 * time.Minute} {
		if s := f.status(t, r.SecretKey); s != http.StatusOK {
			t.Fatalf("new secret %v into the grace: %d", at, s)
		}
		if s := f.status(t, secretKey); s != http.StatusOK {
			t.Fatalf("old secret %v into the grace: %d", at, s)
		}
		f.clock.Add(59 * time.Minute)
	}
	// 118 min after the rotation: the grace (1 h) is over.
	status, hdr, body := f.send(t, req{path: listPath, secret: secretKey})
	wantError(t, status, hdr, body, http.StatusUnauthorized, "UNAUTHORIZED", "")
	if !strings.Contains(f.logs.String(), `"reason":"bad_signature"`) {
		t.Error("the old secret after the grace is not logged as bad_signature")
	}
	if s := f.status(t, r.SecretKey); s != http.StatusOK {
		t.Fatalf("new secret after the grace: %d", s)
	}
	if calls := f.orders.Calls(); len(calls) != 6 {
		t.Fatalf("service calls = %d, want 6 (every accepted request, not the refused one)", len(calls))
	}
}

// TestAuthRotationByAnotherProcess: a secret rotated by another process
// (straight in the store, as `paygate merchant rotate` does) works as soon
// as the cached merchant is a second old, and the old one keeps working
// through the grace; a rotation without grace ends the old one at the
// cache's next look.
func TestAuthRotationByAnotherProcess(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	if s := f.status(t, secretKey); s != http.StatusOK {
		t.Fatalf("before the rotation: %d", s)
	}
	now := f.clock.Now()
	if _, err := f.store.RotateMerchantSecrets(ctx, f.merchant.ID, paygate.SecretRotation{SecretKey: "sk_new_1", SecretKeyGraceUntil: now.Add(time.Hour), At: now}); err != nil {
		t.Fatal(err)
	}
	if s := f.status(t, "sk_new_1"); s != http.StatusUnauthorized {
		t.Fatalf("new secret while the cached merchant is fresh: %d, want 401 (no lookup per forgery)", s)
	}
	f.clock.Add(time.Second)
	if s := f.status(t, "sk_new_1"); s != http.StatusOK {
		t.Fatalf("new secret a second later: %d", s)
	}
	if s := f.status(t, secretKey); s != http.StatusOK {
		t.Fatalf("old secret in its grace: %d", s)
	}
}

// TestAuthDisabledMerchant: a disabled merchant is refused with the very
// 401 of a bad signature, logged as unknown_key; enabled again it passes.
// A change by another process is seen within the cache's lifetime.
func TestAuthDisabledMerchant(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	badStatus, _, badBody := f.send(t, req{path: listPath, secret: "sk_wrong"})
	if _, err := f.admin().Disable(ctx, accessKey); err != nil {
		t.Fatal(err)
	}
	status, hdr, body := f.send(t, req{path: listPath})
	wantError(t, status, hdr, body, http.StatusUnauthorized, "UNAUTHORIZED", "")
	if status != badStatus || !sameError(t, body, badBody) {
		t.Fatalf("disabled: %d %s; a bad signature: %d %s; want the same answer", status, body, badStatus, badBody)
	}
	if !strings.Contains(f.logs.String(), `"reason":"unknown_key","auth_failure":"access key of a disabled merchant"`) {
		t.Errorf("the log does not say unknown_key for the disabled merchant:\n%s", f.logs.String())
	}
	if _, err := f.admin().Enable(ctx, accessKey); err != nil {
		t.Fatal(err)
	}
	if s := f.status(t, secretKey); s != http.StatusOK {
		t.Fatalf("enabled again: %d", s)
	}

	// Another process disables it: the cached merchant serves until the
	// cache's lifetime (10 s by default) is over.
	if _, err := f.store.SetMerchantDisabled(ctx, f.merchant.ID, true, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if s := f.status(t, secretKey); s != http.StatusOK {
		t.Fatalf("disabled elsewhere, within the cache's lifetime: %d", s)
	}
	f.clock.Add(11 * time.Second)
	if s := f.status(t, secretKey); s != http.StatusUnauthorized {
		t.Fatalf("disabled elsewhere, after the cache's lifetime: %d, want 401", s)
	}
	if calls := f.orders.Calls(); len(calls) != 2 {
		t.Fatalf("service calls = %d, want 2", len(calls))
	}
}

// sameError reports whether two error bodies are the same but for their
// request ids.
func sameError(t *testing.T, a, b []byte) bool {
	t.Helper()
	var ea, eb apiError
	if err := json.Unmarshal(a, &ea); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &eb); err != nil {
		t.Fatal(err)
	}
	ea.Error.RequestID, eb.Error.RequestID = "", ""
	return ea == eb
}
