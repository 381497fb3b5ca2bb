package gateway_test

import (
	"slices"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/gateway"
)

func TestBarcode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		authCode  string
		faults    alipaysim.Faults
		want      paygate.OrderStatus
		wantErr   string
		wantTrade string // the channel's status after
	}{
		{"pays at once", "281234567890123456", alipaysim.Faults{}, paygate.StatusPaid, "", alipay.TradeSuccess},
		{"confirms on the phone", "291234567890123456", alipaysim.Faults{}, paygate.StatusPaid, "", alipay.TradeSuccess},
		{"never confirms: cancelled", "271234567890123456", alipaysim.Faults{}, paygate.StatusClosed, "", alipay.TradeClosed},
		{"no balance", "261234567890123456", alipaysim.Faults{}, paygate.StatusClosed, paygate.EPaymentFailed, ""},
		{"invalid code", "12345", alipaysim.Faults{}, paygate.StatusClosed, paygate.EPaymentFailed, ""},
		{"unknown answer, paid", "281234567890123456",
			alipaysim.Faults{UnknownRate: 1, Methods: []string{alipay.MethodPay}}, paygate.StatusPaid, "", alipay.TradeSuccess},
		{"no answer in time, paid", "281234567890123456",
			alipaysim.Faults{TimeoutRate: 1, Methods: []string{alipay.MethodPay}}, paygate.StatusPaid, "", alipay.TradeSuccess},
		{"forged answer, paid", "281234567890123456",
			alipaysim.Faults{BadSignatureRate: 1, Methods: []string{alipay.MethodPay}}, paygate.StatusPaid, "", alipay.TradeSuccess},
		{"gateway down, nothing done: cancelled", "281234567890123456",
			alipaysim.Faults{GatewayErrorRate: 1, Methods: []string{alipay.MethodPay}}, paygate.StatusClosed, "", ""},
		{"unknown while confirming: cancelled", "271234567890123456",
			alipaysim.Faults{UnknownRate: 1, Methods: []string{alipay.MethodPay}}, paygate.StatusClosed, "", alipay.TradeClosed},
		{"cancel asks to retry, never succeeds: undecided", "271234567890123456",
			alipaysim.Faults{CancelRetryRate: 1}, paygate.StatusPending, paygate.EChannel, alipay.TradeWaitBuyerPay},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
				e := setup(t, open, withFaults(tt.faults), func(g *gateway.Config, _ *alipaysim.Config) {
					g.CallTimeout = 500 * time.Millisecond
					g.CancelAttempts = 3
				})
				o, created, err := e.create(t, paygate.CreateOrder{OutTradeNo: "B1", TotalAmount: 2650, Mode: paygate.ModeBarcode, AuthCode: tt.authCode})
				if paygate.ErrorCode(err) != tt.wantErr {
					t.Fatalf("err = %v; want code %q", err, tt.wantErr)
				}
				if err == nil && (!created || o.Status != tt.want) {
					t.Fatalf("order = %+v, created %v", o, created)
				}
				stored := e.order(t, "B1")
				if stored.Status != tt.want {
					t.Fatalf("stored status = %s; want %s", stored.Status, tt.want)
				}
				if tt.wantTrade != "" {
					if got := e.trade(t, stored).TradeStatus; got != tt.wantTrade {
						t.Errorf("channel status = %s; want %s", got, tt.wantTrade)
					}
				}
				var want []string
				switch tt.want {
				case paygate.StatusPaid:
					want = []string{paygate.EventOrderPaid}
				case paygate.StatusClosed:
					want = []string{paygate.EventOrderClosed}
				}
				// The paid notification may race the synchronous answer; either
				// way exactly one event per change.
				eventually(t, "events settle", func() bool { return slices.Equal(e.events(t, stored.ID), want) })
			})
		})
	}
}

// TestBarcodeCancelRefundIsNeverReportedPaid: the buyer confirms, but the
// loop cannot see it (queries fail) and cancels at its deadline, which
// refunds the payment. The payment's notification arrives during the loop
// and must not make the order paid, before or after.
func TestBarcodeCancelRefundIsNeverReportedPaid(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open, withFaults(alipaysim.Faults{GatewayErrorRate: 1, Methods: []string{alipay.MethodQuery}, NotifySchedule: "100ms,200ms,400ms,800ms,1600ms"}),
			func(g *gateway.Config, s *alipaysim.Config) {
				s.PayDelay = 200 * time.Millisecond
				g.PollTimeout = 800 * time.Millisecond
			})
		o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "BR", TotalAmount: 100, Mode: paygate.ModeBarcode, AuthCode: "291234567890123456"})
		if err != nil || o.Status != paygate.StatusClosed {
			t.Fatalf("order = %+v, %v; want closed", o, err)
		}
		tr := e.trade(t, o)
		if tr.TradeStatus != alipay.TradeClosed || tr.CancelAction != alipay.ActionRefund {
			t.Fatalf("channel: %s, cancel action %q; want closed by a refunding cancel", tr.TradeStatus, tr.CancelAction)
		}
		// Let the deferred notifications come back and be answered.
		e.sim.SetFaults(alipaysim.Faults{NotifySchedule: "100ms,200ms,400ms,800ms,1600ms"})
		eventually(t, "every notification acknowledged", func() bool {
			acked := 0
			for _, n := range e.sim.Notifications() {
				if n.OutTradeNo == o.ChannelNo && n.Acked {
					acked++
				}
			}
			return acked >= 2 // TRADE_SUCCESS (stale) and TRADE_CLOSED
		})
		if got := e.order(t, "BR"); got.Status != paygate.StatusClosed {
			t.Fatalf("status after notifications = %s", got.Status)
		}
		if got := e.events(t, o.ID); !slices.Equal(got, []string{paygate.EventOrderClosed}) {
			t.Errorf("events = %v; want only order.closed", got)
		}
	})
}
