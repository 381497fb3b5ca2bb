package client_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/paygate/paygate/client"
)

// A shop creates a QR order and shows the code to the buyer.
func ExampleClient_CreateOrder() {
	c := client.New("http://127.0.0.1:8080", "ak_…", "sk_…")
	order, err := c.CreateOrder(context.Background(), client.CreateOrderRequest{
		OutTradeNo: "T1", Subject: "coffee", TotalAmount: "9.90", Mode: "qr",
	}, client.WithIdempotencyKey("create-T1"))
	if err != nil {
		log.Fatal(err) // *client.APIError carries the status, code and message
	}
	fmt.Println(order.Status, order.QRCode)
}

// A shop's webhook endpoint verifies every delivery before trusting it, and
// deduplicates by event id (each event arrives at least once).
func ExampleParseWebhook() {
	const webhookSecret = "whsec_…"
	http.HandleFunc("/paygate/webhook", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		ev, data, err := client.ParseWebhook(webhookSecret, r.Header.Get(client.WebhookSignatureHeader), body, 0, time.Now())
		if err != nil {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		log.Printf("event %s %s: order %s is %s", ev.ID, ev.Type, data.Order.OutTradeNo, data.Order.Status)
		w.WriteHeader(http.StatusNoContent) // any 2xx acknowledges
	})
}
