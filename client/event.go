package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// EventInfo is an event as the events API shows it: its delivery state,
// and the webhook's body (Payload) exactly as it is delivered.
type EventInfo struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"` // order.paid, order.closed, refund.succeeded, order.late_payment
	CreatedAt   *time.Time      `json:"created_at"`
	DeliveredAt *time.Time      `json:"delivered_at"` // nil until a delivery was acknowledged
	DeadAt      *time.Time      `json:"dead_at"`      // nil unless delivery gave up
	Attempts    int             `json:"attempts"`
	Order       json.RawMessage `json:"order"`
	Refund      json.RawMessage `json:"refund,omitempty"`
	LatePayment json.RawMessage `json:"late_payment,omitempty"`
	Payload     json.RawMessage `json:"payload"`
}

// ListEventsParams selects a page of events. Zero values are omitted.
//
// Newest first by default, paged back with Cursor. With Since or After it
// follows new events instead: oldest first, from Since (inclusive) or after
// the position After names (a NextCursor of an earlier following call).
type ListEventsParams struct {
	Type        string // one event type; empty: all
	Undelivered bool   // only events not acknowledged yet
	Limit       int    // 1 to 100; 0: the server's default
	Cursor      string // newest first: NextCursor of the previous page
	Since       time.Time
	After       string
}

// EventList is one page of events. NextCursor is empty on the last page
// (newest first); following, it is never empty: pass it as After to go on.
type EventList struct {
	Events     []EventInfo `json:"events"`
	NextCursor string      `json:"next_cursor"`
}

// ListEvents returns one page of the merchant's events.
func (c *Client) ListEvents(ctx context.Context, p ListEventsParams) (*EventList, error) {
	q := url.Values{}
	if p.Type != "" {
		q.Set("type", p.Type)
	}
	if p.Undelivered {
		q.Set("undelivered", "true")
	}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	if !p.Since.IsZero() {
		q.Set("since", p.Since.UTC().Format(time.RFC3339Nano))
	}
	if p.After != "" {
		q.Set("after", p.After)
	}
	var raw struct {
		Events     []EventInfo `json:"events"`
		NextCursor *string     `json:"next_cursor"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/events", q, nil, &raw); err != nil {
		return nil, err
	}
	l := &EventList{Events: raw.Events}
	if raw.NextCursor != nil {
		l.NextCursor = *raw.NextCursor
	}
	return l, nil
}
