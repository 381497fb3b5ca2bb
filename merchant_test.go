package paygate

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMerchantPrintsNoSecret(t *testing.T) {
	t.Parallel()
	m := &Merchant{Name: "shop", AccessKey: "ak_1", SecretKey: "sk_now", WebhookSecret: "whsec_now",
		PreviousSecretKey: "sk_before", PreviousWebhookSecret: "whsec_before"}
	for _, out := range []string{m.String(), fmt.Sprint(m), fmt.Sprintf("%v", m)} {
		for _, secret := range []string{"sk_now", "whsec_now", "sk_before", "whsec_before"} {
			if strings.Contains(out, secret) {
				t.Fatalf("%q shows the secret %s", out, secret)
			}
		}
	}
}

func TestMerchantValidSecrets(t *testing.T) {
	t.Parallel()
	until := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := &Merchant{SecretKey: "sk_2", PreviousSecretKey: "sk_1", PreviousSecretUntil: until,
		WebhookSecret: "wh_2", PreviousWebhookSecret: "wh_1", PreviousWebhookSecretUntil: until.Add(time.Hour)}
	tests := []struct {
		at            time.Time
		keys, webhook []string
	}{
		{until.Add(-time.Nanosecond), []string{"sk_2", "sk_1"}, []string{"wh_2", "wh_1"}},
		{until, []string{"sk_2"}, []string{"wh_2", "wh_1"}}, // the grace ends at its instant
		{until.Add(time.Hour), []string{"sk_2"}, []string{"wh_2"}},
	}
	for _, tt := range tests {
		if got := m.SecretKeys(tt.at); !slices.Equal(got, tt.keys) {
			t.Errorf("SecretKeys(%v) = %v, want %v", tt.at, got, tt.keys)
		}
		if got := m.WebhookSecrets(tt.at); !slices.Equal(got, tt.webhook) {
			t.Errorf("WebhookSecrets(%v) = %v, want %v", tt.at, got, tt.webhook)
		}
	}
	none := &Merchant{SecretKey: "sk", WebhookSecret: "wh", PreviousSecretUntil: until} // a time but no secret
	if got := none.SecretKeys(until.Add(-time.Hour)); !slices.Equal(got, []string{"sk"}) {
		t.Errorf("without a previous key: %v", got)
	}
}
