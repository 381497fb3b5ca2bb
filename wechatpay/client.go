// Package wechatpay speaks WeChat Pay's APIv3 for a direct merchant (普通商户):
// Native payment (the merchant shows a code_url), payment-code payment (the
// buyer shows a barcode), query, close, reverse, refund, refund query and the
// trade bill. It signs requests (WECHATPAY2-SHA256-RSA2048), verifies every
// answer and notification over its exact bytes, decrypts notification
// resources (AEAD_AES_256_GCM) and classifies every result into success,
// paying, failed, unknown (query) or config. It uses only the standard
// library's crypto; docs/wechatpay-protocol.md is the fact sheet it follows
// (cited as §). The server halves (VerifyRequest, Signer, EncryptResource,
// NewNotification) are for the simulator.
package wechatpay

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Endpoints (§1.1). The backup domain's name is UNCONFIRMED (the docs and Go
// SDK say api2.mch.weixin.qq.com, the Java SDK api2.wechatpay.cn); the
// documented one is given, and this client never switches by itself.
const (
	ProductionURL = "https://api.mch.weixin.qq.com"
	BackupURL     = "https://api2.mch.weixin.qq.com"
)

// DefaultTimeout bounds a call whose context has no deadline: the official
// Java SDK's 10 s (the Go SDK's is 30 s).
const DefaultTimeout = 10 * time.Second

// maxResponse caps an answer body, so a broken peer cannot exhaust memory.
const maxResponse = 4 << 20

// UserAgent is sent with every request: WeChat Pay refuses requests without
// one (§1.2).
const UserAgent = "paygate-wechatpay/1 (Go)"

// Config is a merchant's identity and keys.
type Config struct {
	MchID      string          // 商户号, 10 digits
	AppID      string          // the AppID bound to MchID (wx + 16 hex)
	BaseURL    string          // default ProductionURL; a simulator otherwise
	PrivateKey *rsa.PrivateKey // merchant API private key (apiclient_key.pem)
	SerialNo   string          // merchant API certificate serial (upper-case hex)
	// WechatPayKeys verify answers and notifications: platform certificates
	// (by serial) and/or the WeChat Pay public key (by PUB_KEY_ID_…). Never
	// the merchant's own key (§3.1).
	WechatPayKeys []PublicKey
	APIv3Key      APIv3Key // decrypts notifications; may be zero for a client that receives none
	NotifyURL     string   // default notify_url of prepay and refund
	HTTPClient    *http.Client
	Timeout       time.Duration    // per-call bound when the context has none; default 10 s
	Now           func() time.Time // clock for signing and verifying; default time.Now
}

// Client calls WeChat Pay. It is safe for concurrent use and never retries:
// which calls are safe to repeat is the caller's decision (§9).
type Client struct {
	cfg      Config
	base     *url.URL
	verifier *Verifier
}

// New checks cfg and returns a client.
func New(cfg Config) (*Client, error) {
	switch {
	case cfg.MchID == "":
		return nil, errors.New("wechatpay: mchid is required")
	case cfg.AppID == "":
		return nil, errors.New("wechatpay: appid is required")
	case cfg.PrivateKey == nil:
		return nil, errors.New("wechatpay: merchant API private key is required")
	case cfg.SerialNo == "" || strings.Trim(cfg.SerialNo, "0123456789ABCDEF") != "":
		return nil, errors.New("wechatpay: merchant API certificate serial is required, in upper-case hex (as WeChat Pay shows it)")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = ProductionURL
	}
	base, err := url.Parse(strings.TrimSuffix(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.RawQuery != "" {
		return nil, fmt.Errorf("wechatpay: base URL %q is not an http(s) URL without a query", cfg.BaseURL)
	}
	if cfg.NotifyURL != "" {
		if err := CheckNotifyURL(cfg.NotifyURL); err != nil {
			return nil, err
		}
	}
	for _, k := range cfg.WechatPayKeys {
		if k.Key != nil && k.Key.Equal(&cfg.PrivateKey.PublicKey) {
			return nil, fmt.Errorf("wechatpay: WeChat Pay key %s is the merchant's own public key; answers are signed by WeChat Pay's platform certificate or public key", k.ID)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v, err := NewVerifier(cfg.Now, cfg.WechatPayKeys...)
	if err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Client{cfg: cfg, base: base, verifier: v}, nil
}

// MchID is the merchant this client signs for.
func (c *Client) MchID() string { return c.cfg.MchID }

// AppID is the AppID this client orders under.
func (c *Client) AppID() string { return c.cfg.AppID }

// Verifier verifies answers and notifications with the configured keys.
func (c *Client) Verifier() *Verifier { return c.verifier }

// ParseNotification verifies and decrypts a notification with this client's
// keys (see the package function). Whether it is about this merchant and
// order is the caller's check, after Transaction or Refund (Transaction.Check).
func (c *Client) ParseNotification(h http.Header, body []byte) (*Notification, error) {
	return ParseNotification(h, body, c.verifier, c.cfg.APIv3Key)
}

// CheckNotifyURL rejects a notify_url WeChat Pay would not call: it must be
// an absolute http(s) URL without a query string ("不能携带参数"), at most
// 255 bytes (§4.1). WeChat Pay requires https on the internet; http is
// accepted for a simulator on loopback.
func CheckNotifyURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("wechatpay: notify_url %q is not an absolute http(s) URL", s)
	}
	if strings.Contains(s, "?") {
		return fmt.Errorf("wechatpay: notify_url %q has a query string, which WeChat Pay does not allow", s)
	}
	if len(s) > 255 {
		return fmt.Errorf("wechatpay: notify_url is %d bytes; at most 255", len(s))
	}
	return nil
}

// answer is an answer that was read: its status, headers and raw body.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// call signs and sends one request and reads its answer. path is the
// escaped path below BaseURL, query the raw query (or ""); in (nil for GET)
// is encoded as JSON and both sent and signed as those exact bytes. A 2xx
// answer is verified (a failure is OutcomeUnknown); when out is not nil its
// body must decode into out. Any other status is an *Error classified by
// Classify, unless it carries a signature that does not verify (unknown).
func (c *Client) call(ctx context.Context, method, path, query string, in, out any) (*answer, error) {
	op := method + " " + path
	var body []byte
	if in != nil {
		var err error
		if body, err = marshalJSON(in); err != nil {
			return nil, &Error{Outcome: OutcomeConfig, Op: op, Err: fmt.Errorf("encode request: %w", err)}
		}
	}
	target := c.base.EscapedPath() + path
	if query != "" {
		target += "?" + query
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	a, err := c.send(ctx, op, method, target, body)
	if err != nil {
		return nil, err
	}
	if a.status < 200 || a.status > 299 {
		return a, c.errorAnswer(op, a)
	}
	reqID := a.header.Get(HeaderRequestID)
	if _, err := c.verifier.Verify(a.header, a.body); err != nil {
		return a, &Error{Outcome: OutcomeUnknown, Op: op, Status: a.status, RequestID: reqID, Err: err}
	}
	if out != nil {
		if len(a.body) == 0 {
			return a, &Error{Outcome: OutcomeUnknown, Op: op, Status: a.status, RequestID: reqID, Verified: true, Err: errors.New("empty answer body")}
		}
		if err := json.Unmarshal(a.body, out); err != nil {
			return a, &Error{Outcome: OutcomeUnknown, Op: op, Status: a.status, RequestID: reqID, Verified: true, Err: fmt.Errorf("decode answer: %w", err)}
		}
	}
	return a, nil
}

// send signs the request to target (the request target as it goes on the
// wire) and reads the answer, at most 4 MiB. The URL never enters an error.
func (c *Client) send(ctx context.Context, op, method, target string, body []byte) (*answer, error) {
	auth, err := SignRequest(c.cfg.PrivateKey, c.cfg.MchID, c.cfg.SerialNo, method, target, body, c.cfg.Now())
	if err != nil {
		return nil, &Error{Outcome: OutcomeConfig, Op: op, Err: err}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.Scheme+"://"+c.base.Host+target, rd)
	if err != nil {
		return nil, &Error{Outcome: OutcomeConfig, Op: op, Err: err}
	}
	if got := req.URL.RequestURI(); got != target {
		// The signed target must be the one sent, byte for byte (§2.1).
		return nil, &Error{Outcome: OutcomeConfig, Op: op, Err: fmt.Errorf("request target %q would be sent as %q", target, got)}
	}
	req.Header.Set("Authorization", auth.String())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if id := c.verifier.PublicKeyID(); id != "" {
		// Ask for answers signed by the public key (§3.3).
		req.Header.Set(HeaderSerial, id)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, transportError(op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, transportError(op, err)
	}
	if len(data) > maxResponse {
		return nil, &Error{Outcome: OutcomeUnknown, Op: op, Status: resp.StatusCode, Err: errors.New("answer larger than 4 MiB")}
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// errorAnswer reads a non-2xx answer's {"code","message","detail"} body.
func (c *Client) errorAnswer(op string, a *answer) *Error {
	e := &Error{Op: op, Status: a.status, RequestID: a.header.Get(HeaderRequestID)}
	if a.header.Get(HeaderSignature) != "" {
		if _, err := c.verifier.Verify(a.header, a.body); err != nil {
			e.Outcome, e.Err = OutcomeUnknown, err
			return e
		}
		e.Verified = true
	}
	var body struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if len(a.body) > 0 && json.Unmarshal(a.body, &body) == nil {
		e.Code, e.Message, e.Detail = body.Code, body.Message, body.Detail
	}
	// A 4xx without a readable code (a proxy's page, not WeChat Pay's API
	// layer) has no code Classify knows: it is unknown.
	e.Outcome = Classify(a.status, e.Code)
	return e
}
