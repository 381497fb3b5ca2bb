package gateway_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/gateway"
)

func TestQROrder(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open)
		o, created, err := e.create(t, paygate.CreateOrder{OutTradeNo: "QR1", TotalAmount: 1234, Mode: paygate.ModeQR})
		if err != nil || !created || o.QRCode == "" || o.Status != paygate.StatusPending {
			t.Fatalf("create: %+v, %v, %v", o, created, err)
		}
		again, created, err := e.create(t, paygate.CreateOrder{OutTradeNo: "QR1", TotalAmount: 1234, Mode: paygate.ModeQR})
		if err != nil || created || again.ID != o.ID || again.QRCode != o.QRCode {
			t.Fatalf("repeat: %+v, %v, %v", again, created, err)
		}
		_, _, err = e.create(t, paygate.CreateOrder{OutTradeNo: "QR1", TotalAmount: 999, Mode: paygate.ModeQR})
		if paygate.ErrorCode(err) != paygate.EOutTradeNoReused {
			t.Fatalf("other amount: %v", err)
		}
		if err := e.sim.PayQR(context.Background(), o.QRCode, ""); err != nil {
			t.Fatal(err)
		}
		eventually(t, "paid by notification", func() bool { return e.order(t, "QR1").Status == paygate.StatusPaid })
		paid := e.order(t, "QR1")
		if paid.TradeNo == "" || paid.BuyerID == "" || paid.PaidAt.IsZero() {
			t.Errorf("paid order lacks channel facts: %+v", paid)
		}
		if got := e.events(t, o.ID); !slices.Equal(got, []string{paygate.EventOrderPaid}) {
			t.Errorf("events = %v", got)
		}
	})
}

func TestConcurrentCreateMakesOneOrder(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open)
		var wg sync.WaitGroup
		ids := make(chan int64, 8)
		var createdCount int
		var mu sync.Mutex
		for range 8 {
			wg.Go(func() {
				o, created, err := e.create(t, paygate.CreateOrder{OutTradeNo: "SAME", TotalAmount: 100, Mode: paygate.ModeQR})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if created {
					createdCount++
				}
				mu.Unlock()
				ids <- o.ID
			})
		}
		wg.Wait()
		close(ids)
		first := <-ids
		for id := range ids {
			if id != first {
				t.Errorf("two orders: %d and %d", first, id)
			}
		}
		if createdCount != 1 {
			t.Errorf("%d creates reported created; want 1", createdCount)
		}
	})
}

func TestRefreshFindsPaymentWhoseNotificationWasLost(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open, withFaults(alipaysim.Faults{NotifyDropRate: 1}))
		o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "LOST", TotalAmount: 500, Mode: paygate.ModeQR})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.sim.PayQR(context.Background(), o.QRCode, ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		if got := e.order(t, "LOST").Status; got != paygate.StatusPending {
			t.Fatalf("status before refresh = %s", got)
		}
		got, err := e.svc.GetOrder(context.Background(), e.merchant, "LOST", true)
		if err != nil || got.Status != paygate.StatusPaid {
			t.Fatalf("refresh: %+v, %v", got, err)
		}
	})
}

// TestRefreshDuringBarcodeDecision: the buyer has paid at the channel while
// the barcode loop is still deciding (it may yet cancel and refund): a
// refresh must not report the order paid; once the loop decides, it is.
func TestRefreshDuringBarcodeDecision(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		release := make(chan struct{})
		var first sync.Once
		e := setup(t, open, withFaults(alipaysim.Faults{NotifyDropRate: 1}), func(g *gateway.Config, s *alipaysim.Config) {
			s.PayDelay = 50 * time.Millisecond
			g.Sleep = func(ctx context.Context, d time.Duration) error {
				blocked := false
				first.Do(func() { blocked = true })
				if blocked { // the loop's first pause lasts until the test has looked
					<-release
				}
				return nil
			}
		})
		type result struct {
			o   *paygate.Order
			err error
		}
		done := make(chan result, 1)
		go func() {
			o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "BD", TotalAmount: 700, Mode: paygate.ModeBarcode, AuthCode: "291234567890123456"})
			done <- result{o, err}
		}()
		eventually(t, "the buyer's payment at the channel", func() bool {
			o, err := e.store.OrderByOutTradeNo(context.Background(), e.merchant.ID, "BD")
			if err != nil {
				return false
			}
			for _, tr := range e.sim.Trades() {
				if tr.OutTradeNo == o.ChannelNo && tr.TradeStatus == alipay.TradeSuccess {
					return true
				}
			}
			return false
		})
		got, err := e.svc.GetOrder(context.Background(), e.merchant, "BD", true)
		if err != nil || got.Status != paygate.StatusPending {
			t.Fatalf("refresh while the loop decides: %+v, %v; want pending", got, err)
		}
		if stored := e.order(t, "BD"); stored.Status != paygate.StatusPending {
			t.Fatalf("stored after the refresh: %s; want pending", stored.Status)
		}
		close(release)
		r := <-done
		if r.err != nil || r.o.Status != paygate.StatusPaid {
			t.Fatalf("the loop decided %+v, %v; want paid", r.o, r.err)
		}
		if got := e.events(t, r.o.ID); !slices.Equal(got, []string{paygate.EventOrderPaid}) {
			t.Errorf("events = %v", got)
		}
	})
}

func TestCloseOrder(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open)
		ctx := context.Background()
		// Nobody scanned: closed, and the code can no longer be paid.
		o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "C1", TotalAmount: 100, Mode: paygate.ModeQR})
		if err != nil {
			t.Fatal(err)
		}
		closed, err := e.svc.CloseOrder(ctx, e.merchant, "C1")
		if err != nil || closed.Status != paygate.StatusClosed {
			t.Fatalf("close unscanned: %+v, %v", closed, err)
		}
		if err := e.sim.PayQR(ctx, o.QRCode, ""); err == nil {
			t.Error("a closed order's code could still be paid")
		}
		// Scanned, not paid: closed at the channel.
		o2, _, _ := e.create(t, paygate.CreateOrder{OutTradeNo: "C2", TotalAmount: 100, Mode: paygate.ModeQR})
		if err := e.sim.ScanQR(ctx, o2.QRCode, ""); err != nil {
			t.Fatal(err)
		}
		if c, err := e.svc.CloseOrder(ctx, e.merchant, "C2"); err != nil || c.Status != paygate.StatusClosed {
			t.Fatalf("close scanned: %+v, %v", c, err)
		}
		if tr := e.trade(t, o2); tr.TradeStatus != alipay.TradeClosed {
			t.Errorf("channel status = %s", tr.TradeStatus)
		}
		// Closing again returns it unchanged.
		if c, err := e.svc.CloseOrder(ctx, e.merchant, "C2"); err != nil || c.Status != paygate.StatusClosed {
			t.Fatalf("close again: %+v, %v", c, err)
		}
		// Paid: cannot close.
		o3, _, _ := e.create(t, paygate.CreateOrder{OutTradeNo: "C3", TotalAmount: 100, Mode: paygate.ModeBarcode, AuthCode: "281234567890123456"})
		if o3.Status != paygate.StatusPaid {
			t.Fatalf("barcode not paid: %+v", o3)
		}
		if _, err := e.svc.CloseOrder(ctx, e.merchant, "C3"); paygate.ErrorCode(err) != paygate.EConflict {
			t.Errorf("close paid: %v", err)
		}
		// Another merchant's order is not found.
		other := &paygate.Merchant{ID: e.merchant.ID + 1000}
		if _, err := e.svc.GetOrder(ctx, other, "C3", false); paygate.ErrorCode(err) != paygate.ENotFound {
			t.Errorf("other merchant: %v", err)
		}
	})
}

func TestPrecreateUnknownIsRetriedByRepeat(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open, withFaults(alipaysim.Faults{GatewayErrorRate: 1, Methods: []string{alipay.MethodPrecreate}}))
		_, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "U1", TotalAmount: 100, Mode: paygate.ModeQR})
		if paygate.ErrorCode(err) != paygate.EChannel {
			t.Fatalf("err = %v; want CHANNEL_ERROR", err)
		}
		if o := e.order(t, "U1"); o.Status != paygate.StatusPending || o.QRCode != "" {
			t.Fatalf("order after unknown precreate: %+v", o)
		}
		if err := e.sim.SetFaults(alipaysim.Faults{}); err != nil {
			t.Fatal(err)
		}
		o, created, err := e.create(t, paygate.CreateOrder{OutTradeNo: "U1", TotalAmount: 100, Mode: paygate.ModeQR})
		if err != nil || created || o.QRCode == "" {
			t.Fatalf("repeat: %+v, %v, %v", o, created, err)
		}
	})
}

func TestNotificationChecks(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open)
		_, ali := keys(t)
		o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "N1", TotalAmount: 100, Mode: paygate.ModeQR})
		if err != nil {
			t.Fatal(err)
		}
		form := func(amount, appID string) map[string][]string {
			f := map[string][]string{
				"notify_id": {"1"}, "notify_type": {"trade_status_sync"}, "app_id": {appID},
				"out_trade_no": {o.ChannelNo}, "trade_no": {"2026112722001400000000000001"},
				"trade_status": {"TRADE_SUCCESS"}, "total_amount": {amount}, "sign_type": {"RSA2"},
			}
			sig, _ := alipay.Sign(ali, []byte(alipay.SignContent(f, "sign", "sign_type")))
			f["sign"] = []string{sig}
			return f
		}
		ctx := context.Background()
		if err := e.svc.HandleNotification(ctx, form("1.01", "2021000000000001")); !errors.Is(err, gateway.ErrNotifyMismatch) {
			t.Errorf("wrong amount: %v", err)
		}
		if err := e.svc.HandleNotification(ctx, form("1.00", "2021000000000999")); !errors.Is(err, gateway.ErrNotifyMismatch) {
			t.Errorf("wrong app: %v", err)
		}
		bad := form("1.00", "2021000000000001")
		bad["total_amount"] = []string{"0.01"}
		if err := e.svc.HandleNotification(ctx, bad); !errors.Is(err, alipay.ErrNotifySignature) || !errors.Is(err, gateway.ErrNotifySignature) {
			t.Errorf("tampered: %v", err)
		}
		if got := e.order(t, "N1").Status; got != paygate.StatusPending {
			t.Fatalf("a rejected notification changed the order: %s", got)
		}
		good := form("1.00", "2021000000000001")
		for range 2 {
			if err := e.svc.HandleNotification(ctx, good); err != nil {
				t.Fatalf("good notification: %v", err)
			}
		}
		if got := e.events(t, o.ID); !slices.Equal(got, []string{paygate.EventOrderPaid}) {
			t.Errorf("a duplicate notification made events %v", got)
		}
	})
}

// TestOrderChannelChoice: an order is taken on the channel it names, which
// must be configured; an auto barcode goes to the wallet its code belongs
// to; an auto QR order goes to the configured channels (Alipay's alone
// here).
// Nothing is recorded for a refused order.
func TestOrderChannelChoice(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open) // Alipay only
		o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "CA", TotalAmount: 100, Mode: paygate.ModeBarcode,
			AuthCode: "281234567890123456", Channel: paygate.ChannelAuto})
		if err != nil || o.Channel != paygate.ChannelAlipay || o.Status != paygate.StatusPaid {
			t.Fatalf("auto barcode with an Alipay code: %+v, %v", o, err)
		}
		if o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "CD", TotalAmount: 100, Mode: paygate.ModeQR}); err != nil || o.Channel != paygate.ChannelAlipay || o.ChannelQRCode() == "" {
			t.Fatalf("no channel named: %+v, %v", o, err)
		}
		// Auto with WeChat Pay not configured here: Alipay's alone.
		if o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "CQ", TotalAmount: 100, Mode: paygate.ModeQR, Channel: paygate.ChannelAuto}); err != nil || o.Channel != paygate.ChannelAlipay || o.QRCode == "" || o.WechatCode != "" {
			t.Fatalf("auto QR with Alipay alone: %+v, %v", o, err)
		}
		for _, tc := range []struct {
			name string
			req  paygate.CreateOrder
		}{
			{"wechat not configured", paygate.CreateOrder{OutTradeNo: "CW", TotalAmount: 100, Mode: paygate.ModeQR, Channel: paygate.ChannelWechat}},
			{"auto barcode with a WeChat code, WeChat not configured", paygate.CreateOrder{OutTradeNo: "CX", TotalAmount: 100,
				Mode: paygate.ModeBarcode, AuthCode: "101234567890123456", Channel: paygate.ChannelAuto}},
			{"unknown channel", paygate.CreateOrder{OutTradeNo: "CU", TotalAmount: 100, Mode: paygate.ModeQR, Channel: "unionpay"}},
		} {
			_, _, err := e.create(t, tc.req)
			if paygate.ErrorCode(err) != paygate.EInvalid {
				t.Errorf("%s: %v, want INVALID_REQUEST", tc.name, err)
			}
			if _, lerr := e.store.OrderByOutTradeNo(context.Background(), e.merchant.ID, tc.req.OutTradeNo); paygate.ErrorCode(lerr) != paygate.ENotFound {
				t.Errorf("%s: the refused order was recorded (%v)", tc.name, lerr)
			}
		}
	})
}
