// Package client is a small Go client for paygate's merchant API: it signs
// every request as contract.md describes and decodes the JSON answers into
// typed values. It uses only the standard library.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxResponse bounds how much of a response body the client reads.
const maxResponse = 16 << 20

// Client calls one paygate deployment as one merchant. It is safe for
// concurrent use.
type Client struct {
	baseURL   string
	accessKey string
	secretKey string
	http      *http.Client
	now       func() time.Time
	nonce     func() string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (default: one with a 2-minute timeout,
// longer than a barcode payment's wait).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithClock sets the clock that stamps X-Timestamp (default time.Now).
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithNonce sets the nonce generator (default: 16 random bytes as hex). It
// exists for tests and tools; a nonce must never repeat within the server's
// tolerance window.
func WithNonce(nonce func() string) Option { return func(c *Client) { c.nonce = nonce } }

// New returns a client for the deployment at baseURL (for example
// "https://pay.example.com") signing as accessKey with secretKey.
func New(baseURL, accessKey, secretKey string, opts ...Option) *Client {
	c := &Client{
		baseURL:   strings.TrimRight(baseURL, "/"),
		accessKey: accessKey,
		secretKey: secretKey,
		http:      &http.Client{Timeout: 2 * time.Minute},
		now:       time.Now,
		nonce:     randomNonce,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

func randomNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// CallOption configures one call.
type CallOption func(*callOptions)

type callOptions struct {
	idempotencyKey string
}

// WithIdempotencyKey sends an Idempotency-Key header: the server answers a
// repeat of the same request with the same key within 24 h with the first
// response (header Idempotent-Replayed: true), and another body with 409.
func WithIdempotencyKey(key string) CallOption {
	return func(o *callOptions) { o.idempotencyKey = key }
}

// Do sends one signed request and decodes a 2xx JSON answer into out (when
// out is not nil). body is nil (no body), []byte or json.RawMessage (sent as
// is), or any value to encode as JSON. A non-2xx answer returns an *APIError
// together with the response. The returned response's body has been read and
// closed; its Body field is replaced by a reader over the same bytes.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body any, out any, opts ...CallOption) (*http.Response, error) {
	var co callOptions
	for _, o := range opts {
		o(&co)
	}
	for k := range query {
		if IsReserved(k) {
			return nil, fmt.Errorf("paygate client: query parameter %q is reserved for the signature", k)
		}
	}
	raw, err := encodeBody(body)
	if err != nil {
		return nil, err
	}
	req, err := c.newRequest(ctx, method, path, query, raw)
	if err != nil {
		return nil, err
	}
	if co.idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", co.idempotencyKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("paygate client: %s %s: %w", method, path, err)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	resp.Body.Close()
	if err != nil {
		return resp, fmt.Errorf("paygate client: %s %s: reading response: %w", method, path, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp, newAPIError(resp, data)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp, fmt.Errorf("paygate client: %s %s: decoding response: %w", method, path, err)
		}
	}
	return resp, nil
}

func encodeBody(body any) ([]byte, error) {
	switch b := body.(type) {
	case nil:
		return nil, nil
	case []byte:
		return b, nil
	case json.RawMessage:
		return b, nil
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("paygate client: encoding request body: %w", err)
	}
	return raw, nil
}

// newRequest builds the request and signs it with a fresh nonce and the
// current time.
func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, body []byte) (*http.Request, error) {
	method = strings.ToUpper(method)
	u, err := url.Parse(c.baseURL)
	if err != nil {
		return nil, fmt.Errorf("paygate client: base URL: %w", err)
	}
	// path is taken unescaped: the server signs the decoded URL path.
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawPath = ""
	u.RawQuery = query.Encode()
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("paygate client: %w", err)
	}
	ts := strconv.FormatInt(c.now().UnixMilli(), 10)
	nonce := c.nonce()
	// Sign the path exactly as the server will see it after decoding.
	sig := Sign(c.secretKey, method, req.URL.Path, query, c.accessKey, ts, nonce, body)
	req.Header.Set("X-Access-Key", c.accessKey)
	req.Header.Set("X-Timestamp", ts)
	req.Header.Set("X-Nonce", nonce)
	req.Header.Set("X-Signature", sig)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "paygate-client-go")
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// APIError is an answer outside 2xx: the HTTP status and the error's stable
// code and human message as the server sent them.
//
// A 402 PAYMENT_FAILED is a declined payment: final, the order closed (in
// Order), the channel's reason in Message; do not retry it, ask the buyer
// for another way to pay under a new out_trade_no. 5xx answers and 429 are
// worth repeating (Retryable): 502 CHANNEL_ERROR (the order stays pending
// and is settled by query), 503 (the channel's circuit, the database, a
// draining node; see RetryAfter).
type APIError struct {
	StatusCode int
	Code       string // for example "INVALID_REQUEST"; empty if the body was not a paygate error
	Message    string
	RequestID  string        // the request id (X-Request-Id, or the body's), for support
	RetryAfter time.Duration // from a Retry-After header in seconds; 0 when absent
	Order      *Order        // with a declined payment (402): the order, closed
}

// Retryable reports whether repeating the same request (with the same
// out_trade_no, out_request_no or Idempotency-Key) may succeed: a 429 or a
// 5xx. A 4xx other than 429, a 402 decline included, is final.
func (e *APIError) Retryable() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("paygate: HTTP %d: %s", e.StatusCode, e.Message)
	}
	return fmt.Sprintf("paygate: HTTP %d %s: %s", e.StatusCode, e.Code, e.Message)
}

// ErrorCode returns the code of an *APIError in err's chain, or "".
func ErrorCode(err error) string {
	var e *APIError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func newAPIError(resp *http.Response, data []byte) *APIError {
	e := &APIError{StatusCode: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		e.RetryAfter = time.Duration(secs) * time.Second
	}
	var env struct {
		Error struct {
			Code      string `json:"code"`
			Message   string `json:"message"`
			RequestID string `json:"request_id"`
		} `json:"error"`
		Order *Order `json:"order"`
	}
	if json.Unmarshal(data, &env) == nil && env.Error.Code != "" {
		e.Code, e.Message, e.Order = env.Error.Code, env.Error.Message, env.Order
		if e.RequestID == "" {
			e.RequestID = env.Error.RequestID
		}
		return e
	}
	msg := strings.TrimSpace(string(data))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	e.Message = msg
	return e
}
