package client

import (
	"errors"
	"testing"
	"time"
)

func TestWebhookSignatureGolden(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_1","type":"order.paid"}`)
	at := time.Unix(1700000000, 0)
	// printf '%s' '1700000000.{"id":"evt_1","type":"order.paid"}' | openssl dgst -sha256 -hmac whsec_test
	want := "t=1700000000,v1=bd9a92a5aa31ee1da5b8176d76564bb487997bd83d82812500375b2ee9c46503"
	if got := SignWebhook("whsec_test", at, body); got != want {
		t.Fatalf("SignWebhook = %s\nwant          %s", got, want)
	}
	if err := VerifyWebhook("whsec_test", want, body, 0, at.Add(299*time.Second)); err != nil {
		t.Fatalf("VerifyWebhook: %v", err)
	}
}

func TestVerifyWebhookRejects(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_1","type":"order.paid","created_at":"2026-01-01T00:00:00Z","data":{"order":{"out_trade_no":"T1"}}}`)
	at := time.Unix(1700000000, 0)
	good := SignWebhook("whsec_test", at, body)
	tests := []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"other secret", "whsec_other", good, body, at, ErrWebhookSignature},
		{"other body", "whsec_test", good, append([]byte(" "), body...), at, ErrWebhookSignature},
		{"too old", "whsec_test", good, body, at.Add(301 * time.Second), ErrWebhookTimestamp},
		{"from the future", "whsec_test", good, body, at.Add(-301 * time.Second), ErrWebhookTimestamp},
		{"no timestamp", "whsec_test", "v1=00", body, at, ErrWebhookHeader},
		{"no signature", "whsec_test", "t=1700000000", body, at, ErrWebhookHeader},
		{"garbage", "whsec_test", "hello", body, at, ErrWebhookHeader},
		{"empty", "whsec_test", "", body, at, ErrWebhookHeader},
	}
	for _, tt := range tests {
		if err := VerifyWebhook(tt.secret, tt.header, tt.body, 0, tt.now); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v; want %v", tt.name, err, tt.want)
		}
	}
	// Rotation: any matching v1 entry is enough.
	rotated := good + ",v1=" + SignWebhook("whsec_new", at, body)[len("t=1700000000,v1="):]
	if err := VerifyWebhook("whsec_new", rotated, body, 0, at); err != nil {
		t.Errorf("rotated: %v", err)
	}
	ev, data, err := ParseWebhook("whsec_test", good, body, time.Minute, at)
	if err != nil || ev.ID != "evt_1" || data.Order.OutTradeNo != "T1" {
		t.Fatalf("ParseWebhook = %+v %+v %v", ev, data, err)
	}
}
