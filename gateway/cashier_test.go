package gateway_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/gateway"
)

func withPublicURL(u string) option {
	return func(c *gateway.Config, _ *alipaysim.Config) { c.PublicURL = u }
}

// TestCashierTokenAndReturnURL: a QR order gets an unguessable cashier token
// of its own (never its out_trade_no) with its return_url, a repeat keeps
// both, another return_url is a conflict like any other parameter, a
// barcode order has no token, and the order.paid webhook carries the
// cashier_url under the public URL.
func TestCashierTokenAndReturnURL(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open, withPublicURL("https://pay.example.com/"))
		ctx := context.Background()
		req := paygate.CreateOrder{OutTradeNo: "CT1", TotalAmount: 990, Mode: paygate.ModeQR, ReturnURL: "https://shop.example/done?o=CT1"}
		o, created, err := e.create(t, req)
		if err != nil || !created {
			t.Fatalf("create: %v %v", created, err)
		}
		if !paygate.WellFormedCashierToken(o.CashierToken) || strings.Contains(o.CashierToken, "CT1") || o.ReturnURL != req.ReturnURL {
			t.Fatalf("token %q, return_url %q", o.CashierToken, o.ReturnURL)
		}
		stored, err := e.store.OrderByCashierToken(ctx, o.CashierToken)
		if err != nil || stored.ID != o.ID {
			t.Fatalf("by token: %v %+v", err, stored)
		}
		again, created, err := e.create(t, req)
		if err != nil || created || again.CashierToken != o.CashierToken {
			t.Fatalf("repeat: created %v, err %v, token %q", created, err, again.CashierToken)
		}
		other := req
		other.ReturnURL = "https://shop.example/elsewhere"
		if _, _, err := e.create(t, other); paygate.ErrorCode(err) != paygate.EOutTradeNoReused {
			t.Fatalf("other return_url: %v, want %s", err, paygate.EOutTradeNoReused)
		}
		none := req
		none.ReturnURL = ""
		if _, _, err := e.create(t, none); paygate.ErrorCode(err) != paygate.EOutTradeNoReused {
			t.Fatalf("return_url left out: %v, want %s", err, paygate.EOutTradeNoReused)
		}

		// Two orders never share a token.
		o2, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "CT2", TotalAmount: 990, Mode: paygate.ModeQR})
		if err != nil || o2.CashierToken == "" || o2.CashierToken == o.CashierToken {
			t.Fatalf("second order: %v, token %q", err, o2.CashierToken)
		}

		b, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "CB1", TotalAmount: 100, Mode: paygate.ModeBarcode, AuthCode: "280000000000000001"})
		if err != nil || b.CashierToken != "" || b.CashierURL("https://pay.example.com") != "" {
			t.Fatalf("barcode order: %v, token %q", err, b.CashierToken)
		}

		if err := e.sim.PayQR(ctx, o.QRCode, ""); err != nil {
			t.Fatal(err)
		}
		eventually(t, "paid", func() bool { return e.order(t, "CT1").Status == paygate.StatusPaid })
		evs, err := e.store.EventsByOrder(ctx, o.ID)
		if err != nil || len(evs) != 1 {
			t.Fatalf("events: %v %d", err, len(evs))
		}
		var payload struct {
			Data struct {
				Order map[string]any `json:"order"`
			} `json:"data"`
		}
		if err := json.Unmarshal(evs[0].Payload, &payload); err != nil {
			t.Fatal(err)
		}
		want := "https://pay.example.com/pay/" + o.CashierToken
		if got := payload.Data.Order["cashier_url"]; got != want {
			t.Fatalf("webhook cashier_url = %v, want %s", got, want)
		}
	})
}
