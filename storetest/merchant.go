package storetest

import (
	"context"
	"testing"

	"github.com/paygate/paygate"
)

func testMerchant(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	if m.ID == 0 {
		t.Fatal("CreateMerchant left ID zero")
	}
	want := *m
	want.CreatedAt = us(t0)
	mustEqual(t, "merchant after create", *m, want)

	got, err := s.MerchantByAccessKey(ctx, m.AccessKey)
	if err != nil {
		t.Fatalf("MerchantByAccessKey: %v", err)
	}
	mustEqual(t, "MerchantByAccessKey", *got, want)

	got, err = s.MerchantByID(ctx, m.ID)
	if err != nil {
		t.Fatalf("MerchantByID: %v", err)
	}
	mustEqual(t, "MerchantByID", *got, want)

	other := newMerchant(t, s)
	if other.ID == m.ID {
		t.Fatal("two merchants share an ID")
	}
	got, err = s.MerchantByID(ctx, other.ID)
	if err != nil {
		t.Fatalf("MerchantByID: %v", err)
	}
	if got.SecretKey != other.SecretKey || got.WebhookSecret != other.WebhookSecret {
		t.Fatal("second merchant's secrets do not round-trip")
	}
}

func testMerchantNotFound(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	_, err := s.MerchantByAccessKey(ctx, "ak_missing")
	wantCode(t, err, paygate.ENotFound)
	_, err = s.MerchantByID(ctx, 424242)
	wantCode(t, err, paygate.ENotFound)
}

func testMerchantDuplicateAccessKey(t *testing.T, s paygate.Store) {
	m := newMerchant(t, s)
	dup := &paygate.Merchant{Name: "Copy", AccessKey: m.AccessKey, SecretKey: "x", WebhookSecret: "y", CreatedAt: t0}
	wantCode(t, s.CreateMerchant(context.Background(), dup), paygate.EConflict)
}
