package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/paygate/paygate"
)

// Events is merchants' webhook events: listed, inspected with their
// delivery attempts, and re-sent. jobs.EventService implements it. Every
// call is scoped to merchantID: another merchant's event is ENotFound.
type Events interface {
	ListEvents(ctx context.Context, f paygate.EventFilter) ([]*paygate.Event, error)
	Event(ctx context.Context, merchantID int64, id string) (*paygate.Event, []*paygate.WebhookAttempt, error)
	// ResendEvent delivers the event again (dead, pending or delivered)
	// and returns it as it now is.
	ResendEvent(ctx context.Context, merchantID int64, id string) (*paygate.Event, error)
}

// eventJSON is an event as the API shows it: its identity, its delivery
// state, and the order (and refund, or late payment) as its webhook
// carries them.
type eventJSON struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	CreatedAt   *string         `json:"created_at"`
	DeliveredAt *string         `json:"delivered_at"`
	DeadAt      *string         `json:"dead_at"`
	Attempts    int             `json:"attempts"`
	Order       json.RawMessage `json:"order"`
	Refund      json.RawMessage `json:"refund,omitempty"`
	LatePayment json.RawMessage `json:"late_payment,omitempty"`
	// Payload is the webhook's body exactly as delivered (what `paygate
	// listen` forwards and signs).
	Payload json.RawMessage `json:"payload"`
}

func newEventJSON(e *paygate.Event) eventJSON {
	out := eventJSON{
		ID: e.ID, Type: e.Type, CreatedAt: optTime(e.CreatedAt), DeliveredAt: optTime(e.DeliveredAt),
		DeadAt: optTime(e.DeadAt), Attempts: e.Attempts, Order: json.RawMessage("null"), Payload: json.RawMessage("null"),
	}
	if json.Valid(e.Payload) {
		out.Payload = e.Payload
	}
	var p struct {
		Data struct {
			Order       json.RawMessage `json:"order"`
			Refund      json.RawMessage `json:"refund"`
			LatePayment json.RawMessage `json:"late_payment"`
		} `json:"data"`
	}
	if json.Unmarshal(e.Payload, &p) == nil {
		if len(p.Data.Order) > 0 {
			out.Order = p.Data.Order
		}
		out.Refund, out.LatePayment = p.Data.Refund, p.Data.LatePayment
	}
	return out
}

// attemptJSON is one delivery attempt.
type attemptJSON struct {
	At         *string `json:"at"`
	URL        *string `json:"url"`
	StatusCode *int    `json:"status_code"` // null: no response
	LatencyMS  int64   `json:"latency_ms"`
	Excerpt    string  `json:"excerpt"`
	Success    bool    `json:"success"`
}

type eventDetailJSON struct {
	eventJSON
	DeliveryAttempts []attemptJSON `json:"delivery_attempts"`
}

type eventListJSON struct {
	Events     []eventJSON `json:"events"`
	NextCursor *string     `json:"next_cursor"`
}

// listEvents: a page of the merchant's events, newest first, filtered by
// type and by not-yet-delivered. Like listOrders it asks for one more than
// the page, so that next_cursor is null exactly on the last page. With
// since or after it follows new events instead (followEvents).
func (s *Server) listEvents(c *gin.Context, m *paygate.Merchant) (int, any, error) {
	q := c.Request.URL.Query()
	if err := checkQuery(q, "type", "undelivered", "limit", "cursor", "since", "after"); err != nil {
		return 0, nil, err
	}
	f := paygate.EventFilter{MerchantID: m.ID, Limit: defaultLimit, Type: q.Get("type")}
	if f.Type != "" && !paygate.ValidEventType(f.Type) {
		return 0, nil, invalid("type must be one of %s", strings.Join(paygate.EventTypes(), ", "))
	}
	switch q.Get("undelivered") {
	case "", "false":
	case "true":
		f.Undelivered = true
	default:
		return 0, nil, invalid("undelivered must be true or false")
	}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > maxLimit {
			return 0, nil, invalid("limit must be a whole number from 1 to %d", maxLimit)
		}
		f.Limit = n
	}
	following, err := followFrom(q, &f)
	if err != nil {
		return 0, nil, err
	}
	if v, ok := q["cursor"]; ok {
		if following {
			return 0, nil, invalid("cursor pages back from the newest; since and after follow forward: use one or the other")
		}
		at, id, err := decodeEventCursor(v[0])
		if err != nil {
			return 0, nil, err
		}
		f.BeforeCreatedAt, f.BeforeID = at, id
	}
	if err := emptyBody(body(c)); err != nil {
		return 0, nil, err
	}
	if following {
		return s.followEvents(c, f)
	}
	limit := f.Limit
	f.Limit++
	events, err := s.events.ListEvents(c.Request.Context(), f)
	if err != nil {
		return 0, nil, err
	}
	out := eventListJSON{Events: make([]eventJSON, 0, min(len(events), limit))}
	for i, e := range events {
		if i == limit {
			last := events[limit-1]
			cur := encodeEventCursor(last.CreatedAt, last.ID)
			out.NextCursor = &cur
			break
		}
		out.Events = append(out.Events, newEventJSON(e))
	}
	return http.StatusOK, out, nil
}

// pathEventID is the event named in the path.
func pathEventID(c *gin.Context) (string, error) {
	id := c.Param("id")
	if len(id) == 0 || len(id) > 64 || !isAlnumUnderscore(id) {
		return "", invalid("event id must be 1 to 64 characters of A-Z, a-z, 0-9 and _")
	}
	return id, nil
}

// getEvent: one event with its delivery attempts, oldest first.
func (s *Server) getEvent(c *gin.Context, m *paygate.Merchant) (int, any, error) {
	if err := checkQuery(c.Request.URL.Query()); err != nil {
		return 0, nil, err
	}
	id, err := pathEventID(c)
	if err != nil {
		return 0, nil, err
	}
	if err := emptyBody(body(c)); err != nil {
		return 0, nil, err
	}
	e, attempts, err := s.events.Event(c.Request.Context(), m.ID, id)
	if err != nil {
		return 0, nil, err
	}
	out := eventDetailJSON{eventJSON: newEventJSON(e), DeliveryAttempts: make([]attemptJSON, 0, len(attempts))}
	for _, a := range attempts {
		j := attemptJSON{At: optTime(a.At), URL: optString(a.URL), LatencyMS: a.Latency.Milliseconds(), Excerpt: a.Excerpt, Success: a.Success}
		if a.StatusCode != 0 {
			j.StatusCode = &a.StatusCode
		}
		out.DeliveryAttempts = append(out.DeliveryAttempts, j)
	}
	return http.StatusOK, out, nil
}

// resendEvent: 202, the event is due for delivery again (with a full
// schedule of retries), whatever its state.
func (s *Server) resendEvent(c *gin.Context, m *paygate.Merchant) (int, any, error) {
	if err := checkQuery(c.Request.URL.Query()); err != nil {
		return 0, nil, err
	}
	id, err := pathEventID(c)
	if err != nil {
		return 0, nil, err
	}
	if err := emptyBody(body(c)); err != nil {
		return 0, nil, err
	}
	e, err := s.events.ResendEvent(c.Request.Context(), m.ID, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, newEventJSON(e), nil
}

// An event cursor is the last event's creation time (Unix microseconds)
// and ID, versioned and base64url-encoded so that clients treat it as
// opaque.
const eventCursorPrefix = "e1:"

func encodeEventCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(eventCursorPrefix + strconv.FormatInt(at.UnixMicro(), 10) + ":" + id))
}

func decodeEventCursor(s string) (time.Time, string, error) {
	bad := invalid("cursor is not one this API returned; use next_cursor as given")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, "", bad
	}
	rest, ok := strings.CutPrefix(string(raw), eventCursorPrefix)
	if !ok {
		return time.Time{}, "", bad
	}
	digits, id, ok := strings.Cut(rest, ":")
	if !ok || digits == "" || !isDigits(digits) || id == "" || len(id) > 64 || !isAlnumUnderscore(id) {
		return time.Time{}, "", bad
	}
	us, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || us <= 0 {
		return time.Time{}, "", bad
	}
	return time.UnixMicro(us).UTC(), id, nil
}
