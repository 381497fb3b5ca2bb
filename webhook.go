package paygate

import (
	"context"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// WebhookAttempt records one try at delivering an event to a merchant's
// webhook: when, where, what came back and how long it took. Every try is
// kept, including those that sent nothing (no URL configured, a URL or an
// address refused, the endpoint's circuit open for longer than the retry
// schedule), so that a merchant can see why an event is late or dead.
type WebhookAttempt struct {
	ID         int64
	EventID    string
	At         time.Time
	URL        string        // empty when none was configured
	StatusCode int           // the HTTP status; 0 when there was no response
	Latency    time.Duration // from sending to the response's headers (or the failure)
	Excerpt    string        // the response body's first bytes, or why nothing was sent or received
	Success    bool          // a 2xx: the event is delivered
}

// EventTypes lists every event type, for filters and their messages.
func EventTypes() []string {
	return []string{EventOrderPaid, EventOrderClosed, EventRefundSucceeded, EventOrderLatePayment}
}

// ValidEventType reports whether t is one of EventTypes.
func ValidEventType(t string) bool {
	for _, v := range EventTypes() {
		if t == v {
			return true
		}
	}
	return false
}

// MaxExcerpt is how many bytes of a response body an attempt keeps.
const MaxExcerpt = 200

// EventFilter selects events, newest first (by creation time, then ID), or
// oldest first when it follows new events (AfterCreatedAt set).
type EventFilter struct {
	// MerchantID scopes the list to one merchant. 0 lists every merchant's
	// events: the operator's view, never the merchant API's.
	MerchantID int64
	Type       string // empty: every type
	// Undelivered keeps only events not acknowledged yet: still being
	// retried, or dead-lettered.
	Undelivered bool
	// Delivery narrows the list to the events being retried or to the
	// dead-lettered ones (either implies Undelivered); empty: no narrowing.
	Delivery EventDelivery
	Limit    int // 0: 20; at most 500
	// The cursor: only events created before BeforeCreatedAt, or at that
	// time with a smaller ID. Zero: from the newest.
	BeforeCreatedAt time.Time
	BeforeID        string
	// Following new events: when AfterCreatedAt is not zero, only events
	// created after it, or at that time with an ID greater than AfterID
	// ("" takes every ID of that time), oldest first. The Before cursor
	// is then ignored.
	AfterCreatedAt time.Time
	AfterID        string
}

// EventDelivery is where an undelivered event stands, for EventFilter.
type EventDelivery string

// Delivery states of an undelivered event.
const (
	// DeliveryRetrying: neither delivered nor dead-lettered; its delivery
	// is queued or waiting for a retry (the webhook backlog).
	DeliveryRetrying EventDelivery = "retrying"
	// DeliveryDead: dead-lettered; it waits for a re-send by hand.
	DeliveryDead EventDelivery = "dead"
)

// WebhookStore keeps events' delivery state (Event.DeliveredAt, DeadAt,
// Attempts) and their delivery attempts. It is part of Store.
type WebhookStore interface {
	// ListEvents pages events as f selects them, newest first.
	ListEvents(ctx context.Context, f EventFilter) ([]*Event, error)
	// RecordWebhookAttempt inserts a (setting its ID and, when zero, its
	// time) and bumps its event's Attempts; a successful attempt also sets
	// the event's DeliveredAt (if not yet set) and clears its DeadAt.
	// ENotFound if the event does not exist.
	RecordWebhookAttempt(ctx context.Context, a *WebhookAttempt) error
	// MarkEventDead dead-letters an undelivered event at time at: delivery
	// has given up until someone re-sends it. A delivered event is left as
	// it is. ENotFound if the event does not exist.
	MarkEventDead(ctx context.Context, eventID string, at time.Time) error
	// ReviveEvent makes an event due for delivery again, for a re-send: it
	// clears DeadAt and DeliveredAt (the attempts keep the history).
	// ENotFound if the event does not exist.
	ReviveEvent(ctx context.Context, eventID string) error
	// WebhookAttempts lists an event's attempts, oldest first; an unknown
	// event has none.
	WebhookAttempts(ctx context.Context, eventID string) ([]*WebhookAttempt, error)
}

// WebhookTx is what both stores' transactions (StoreTx) also offer for
// webhooks, so that a re-send revives the event and enqueues its delivery
// in one transaction: either both happen or neither.
type WebhookTx interface {
	// ReviveEvent is WebhookStore.ReviveEvent within the transaction.
	ReviveEvent(ctx context.Context, eventID string) error
}

// CheckWebhookURL refuses a webhook URL that is wrong whatever the
// configuration: not an absolute http or https URL, user information
// (user:password@, which would be stored and shown with every attempt), or a
// host that is a number but not a plain IPv4 or IPv6 address
// ("0x7f000001", "2130706433", "127.1", "0177.0.0.1": spellings that some
// resolvers read as an address and others send to DNS). An EInvalid error
// says which. Where the URL may connect is decided when connecting
// (jobs refuses internal addresses there), not here.
func CheckWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return Errorf(EInvalid, "the webhook URL must be an absolute http or https URL")
	}
	if u.User != nil {
		return Errorf(EInvalid, "the webhook URL must not carry user information (user:password@)")
	}
	if numericHost(u.Hostname()) {
		if _, err := netip.ParseAddr(u.Hostname()); err != nil {
			return Errorf(EInvalid, "the webhook URL's host %q is a number but not an IP address in its usual form", u.Hostname())
		}
	}
	return nil
}

// numericHost reports whether host's last label is a number (decimal, or
// hexadecimal after 0x), as the URL standard decides that a host is an IPv4
// address; an IPv6 address counts too. No top-level domain is a number.
func numericHost(host string) bool {
	if strings.Contains(host, ":") {
		return true
	}
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	last := labels[len(labels)-1]
	if h, ok := strings.CutPrefix(strings.ToLower(last), "0x"); ok {
		return strings.Trim(h, "0123456789abcdef") == ""
	}
	return last != "" && strings.Trim(last, "0123456789") == ""
}
