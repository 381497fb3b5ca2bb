// Package storetest is the behaviour every paygate.Store shares: one suite,
// run by each store's own tests against a real database (see Run).
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

// EventReader is what the suite needs beyond paygate.Store to check that
// events were (or were not) written. Both stores implement it; it is
// proposed for paygate.Store, which webhook delivery will need anyway.
type EventReader interface {
	EventByID(ctx context.Context, id string) (*paygate.Event, error)
	EventsByOrder(ctx context.Context, orderID int64) ([]*paygate.Event, error)
}

// Run runs the suite. open is called once per subtest, possibly from
// parallel subtests, and must return a fresh, migrated, empty store that it
// closes (and removes) through t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) paygate.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s paygate.Store)
	}{
		{"Ping", testPing},
		{"Merchant", testMerchant},
		{"MerchantNotFound", testMerchantNotFound},
		{"MerchantDuplicateAccessKey", testMerchantDuplicateAccessKey},
		{"MerchantRotate", testMerchantRotate}, {"MerchantDisable", testMerchantDisable}, {"MerchantNotifyURL", testMerchantNotifyURL},
		{"ListMerchants", testListMerchants}, {"DeadLetters", testDeadLetters},
		{"OrderCreate", testOrderCreate},
		{"OrderDuplicateOutTradeNo", testOrderDuplicateOutTradeNo},
		{"OrderDuplicateChannelNo", testOrderDuplicateChannelNo},
		{"OrderLookups", testOrderLookups},
		{"OrderTimes", testOrderTimes},
		{"OrderUpdateVersion", testOrderUpdateVersion},
		{"OrderConstraints", testOrderConstraints},
		{"ListOrdersPaging", testListOrdersPaging},
		{"ListOrdersFilter", testListOrdersFilter},
		{"Refunds", testRefunds},
		{"RefundDuplicateRequestNo", testRefundDuplicateRequestNo},
		{"Events", testEvents},
		{"WebhookDelivery", testWebhookDelivery}, {"ReviveEventTx", testReviveEventTx}, {"ListEvents", testListEvents},
		{"TxCommit", testTxCommit},
		{"TxRollbackOnError", testTxRollbackOnError},
		{"TxRollbackOnPanic", testTxRollbackOnPanic},
		{"ConcurrentRefunds", testConcurrentRefunds},
		{"IdempotencyFlow", testIdempotencyFlow},
		{"IdempotencyLeaseTakeover", testIdempotencyLeaseTakeover},
		{"IdempotencyExpiredReplaced", testIdempotencyExpiredReplaced},
		{"IdempotencyFinishMismatch", testIdempotencyFinishMismatch},
		{"IdempotencyDeleteExpired", testIdempotencyDeleteExpired},
		{"IdempotencyRelease", testIdempotencyRelease},
		{"ReconScanPayments", testReconScanPayments},
		{"ReconScanRefunds", testReconScanRefunds},
		{"ReconScanChannels", testReconScanChannels},
		{"ReconSaveLoad", testReconSaveLoad},
		{"ReconReplace", testReconReplace},
		{"ReconRepairLog", testReconRepairLog},
		{"ReconCrossDayOf", testReconCrossDayOf},
		{"ListReconciliations", testListReconciliations},
		{"ReconChannels", testReconChannels},
		{"ReconSaveInvalid", testReconSaveInvalid},
		{"BulkInsertOrders", testBulkInsertOrders},
		{"Operators", testOperators},
		{"LoginFailures", testLoginFailures},
		{"OperatorActions", testOperatorActions},
		{"RevokedSessions", testRevokedSessions},
		{"SearchOrders", testSearchOrders},
		{"Activities", testActivities},
		{"FollowEvents", testFollowEvents},
		{"CashierToken", testCashierToken},
		{"OrderChannel", testOrderChannel},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// t0 is the suite's clock: not UTC and finer than a microsecond, to prove
// that stores normalize both.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("CST", 8*60*60))

// us is t as a store keeps it: UTC, whole microseconds.
func us(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func randomID(prefix string) string { return prefix + rand.Text() }

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := paygate.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (err %v), want %q", got, err, code)
	}
}

func mustEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func newMerchant(t *testing.T, s paygate.Store) *paygate.Merchant {
	t.Helper()
	m := &paygate.Merchant{
		Name:          "Shop",
		AccessKey:     randomID("ak_"),
		SecretKey:     randomID("sk_"),
		WebhookSecret: randomID("whsec_"),
		NotifyURL:     "https://shop.example/hook",
		CreatedAt:     t0,
	}
	if err := s.CreateMerchant(context.Background(), m); err != nil {
		t.Fatalf("create merchant: %v", err)
	}
	return m
}

// newOrder creates a pending order of m, changed by edit before the insert.
func newOrder(t *testing.T, s paygate.Store, m *paygate.Merchant, edit func(o *paygate.Order)) *paygate.Order {
	t.Helper()
	o := &paygate.Order{
		MerchantID:  m.ID,
		OutTradeNo:  randomID("otn_"),
		ChannelNo:   randomID("ch_"),
		Mode:        paygate.ModeQR,
		Subject:     "coffee",
		TotalAmount: 500,
		Status:      paygate.StatusPending,
		NotifyURL:   "https://shop.example/order-hook",
		ParamsHash:  "hash",
		CreatedAt:   t0,
		UpdatedAt:   t0,
		ExpiresAt:   t0.Add(15 * time.Minute),
	}
	if edit != nil {
		edit(o)
	}
	if err := s.CreateOrder(context.Background(), o); err != nil {
		t.Fatalf("create order: %v", err)
	}
	return o
}

// pay moves o to paid in a transaction and returns it as stored.
func pay(t *testing.T, s paygate.Store, o *paygate.Order) *paygate.Order {
	t.Helper()
	var out *paygate.Order
	err := s.Tx(context.Background(), func(tx paygate.StoreTx) error {
		cur, err := tx.OrderForUpdate(context.Background(), o.ID)
		if err != nil {
			return err
		}
		if err := cur.Transition(paygate.StatusPaid, t0.Add(time.Minute)); err != nil {
			return err
		}
		cur.TradeNo = randomID("2026")
		cur.BuyerID = "2088000000000001"
		if err := tx.UpdateOrder(context.Background(), cur); err != nil {
			return err
		}
		out = cur
		return nil
	})
	if err != nil {
		t.Fatalf("pay order: %v", err)
	}
	return out
}

func orderByID(t *testing.T, s paygate.Store, m *paygate.Merchant, o *paygate.Order) *paygate.Order {
	t.Helper()
	got, err := s.OrderByOutTradeNo(context.Background(), m.ID, o.OutTradeNo)
	if err != nil {
		t.Fatalf("read order: %v", err)
	}
	return got
}

func eventReader(t *testing.T, s paygate.Store) EventReader {
	t.Helper()
	r, ok := s.(EventReader)
	if !ok {
		t.Fatalf("%T does not implement storetest.EventReader", s)
	}
	return r
}

func testPing(t *testing.T, s paygate.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

var errBoom = errors.New("boom")
