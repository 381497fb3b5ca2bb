// Package alipay speaks Alipay's OpenAPI gateway protocol (gateway.do, RSA2)
// for face-to-face payment: it signs requests, verifies responses over their
// exact bytes, classifies every result, verifies notifications and parses
// bills. It uses only the standard library's crypto; see
// shared/docs/alipay-protocol.md for the rules it follows (cited as §).
package alipay

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

// Gateways (§1.1).
const (
	ProductionGateway = "https://openapi.alipay.com/gateway.do"
	SandboxGateway    = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"
)

// DefaultTimeout bounds a call whose context has no deadline; it is the
// official SDKs' 15 s.
const DefaultTimeout = 15 * time.Second

// maxResponse caps what a response body may be, so a broken peer cannot
// exhaust memory. Real responses are a few KiB.
const maxResponse = 4 << 20

// Config is an app's identity and keys.
type Config struct {
	AppID      string // 16-digit app id
	GatewayURL string // default ProductionGateway; the sandbox or a simulator otherwise
	PrivateKey *rsa.PrivateKey
	// AlipayPublicKey verifies responses and notifications in public-key mode.
	// It is Alipay's key, never the app's own public key (§1.5).
	AlipayPublicKey *rsa.PublicKey
	// Cert switches to certificate mode (§1.6); its Alipay certificate then
	// verifies instead of AlipayPublicKey.
	Cert       *CertMode
	NotifyURL  string // default notify_url for pay and precreate; no query string
	HTTPClient *http.Client
	Timeout    time.Duration    // per-call bound when the context has none; default 15 s
	Now        func() time.Time // clock for timestamps; default time.Now
}

// Client calls Alipay's gateway. It is safe for concurrent use. It never
// retries: which calls are safe to repeat is the caller's decision (§6).
type Client struct {
	cfg       Config
	verifyKey *rsa.PublicKey
}

// New checks cfg and returns a client.
func New(cfg Config) (*Client, error) {
	if cfg.AppID == "" {
		return nil, errors.New("alipay: app id is required")
	}
	if cfg.PrivateKey == nil {
		return nil, errors.New("alipay: app private key is required")
	}
	if cfg.GatewayURL == "" {
		cfg.GatewayURL = ProductionGateway
	}
	if u, err := url.Parse(cfg.GatewayURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("alipay: gateway URL %q is not an http(s) URL", cfg.GatewayURL)
	}
	if cfg.NotifyURL != "" {
		if err := CheckNotifyURL(cfg.NotifyURL); err != nil {
			return nil, err
		}
	}
	verifyKey := cfg.AlipayPublicKey
	if cfg.Cert != nil {
		verifyKey = cfg.Cert.AlipayPublicKey
	}
	if verifyKey == nil {
		return nil, errors.New("alipay: Alipay public key (or certificate mode) is required to verify responses")
	}
	if verifyKey.Equal(&cfg.PrivateKey.PublicKey) {
		return nil, errors.New("alipay: the Alipay public key is the app's own public key; use the key Alipay's console shows as 支付宝公钥")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Client{cfg: cfg, verifyKey: verifyKey}, nil
}

// AppID is the app this client signs for.
func (c *Client) AppID() string { return c.cfg.AppID }

// AlipayPublicKey is the key that verifies this app's responses and notifications.
func (c *Client) AlipayPublicKey() *rsa.PublicKey { return c.verifyKey }

// CheckNotifyURL rejects a notify_url Alipay would not call back: it must be
// an absolute http(s) URL without a query string, at most 256 bytes (§1.3).
func CheckNotifyURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("alipay: notify_url %q is not an absolute http(s) URL", s)
	}
	if u.RawQuery != "" || strings.Contains(s, "?") {
		return fmt.Errorf("alipay: notify_url %q has a query string, which Alipay does not allow", s)
	}
	if len(s) > 256 {
		return fmt.Errorf("alipay: notify_url is %d bytes; at most 256", len(s))
	}
	return nil
}

// MarshalBizContent encodes biz as compact JSON without HTML escaping, the
// exact string that is both sent and signed as biz_content.
func MarshalBizContent(biz any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(biz); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Params builds and signs the full parameter set of a call (§1.3, §1.4):
// the system parameters, biz_content, and sign over all of them but sign.
func (c *Client) Params(method string, bizContent []byte, notifyURL string) (url.Values, error) {
	p := url.Values{
		"app_id":    {c.cfg.AppID},
		"method":    {method},
		"format":    {"JSON"},
		"charset":   {"utf-8"},
		"sign_type": {"RSA2"},
		"timestamp": {FormatTime(c.cfg.Now())},
		"version":   {"1.0"},
	}
	if len(bizContent) > 0 && string(bizContent) != "{}" {
		p.Set("biz_content", string(bizContent))
	}
	if notifyURL != "" {
		p.Set("notify_url", notifyURL)
	}
	if c.cfg.Cert != nil {
		p.Set("app_cert_sn", c.cfg.Cert.AppCertSN)
		p.Set("alipay_root_cert_sn", c.cfg.Cert.AlipayRootCertSN)
	}
	sign, err := Sign(c.cfg.PrivateKey, []byte(SignContent(p, "sign")))
	if err != nil {
		return nil, fmt.Errorf("alipay: sign %s: %w", method, err)
	}
	p.Set("sign", sign)
	return p, nil
}

// call signs and posts one request, then verifies and decodes its response
// node into out (a pointer to a struct embedding Result). It returns nil for
// Success and Paying and an *Error otherwise; out is filled whenever a signed
// node was read, so failures still expose fields such as retry_flag.
func (c *Client) call(ctx context.Context, method string, biz any, notifyURL string, out resultHolder) error {
	bizContent, err := MarshalBizContent(biz)
	if err != nil {
		return &Error{Outcome: OutcomeConfig, Method: method, Err: fmt.Errorf("encode biz_content: %w", err)}
	}
	params, err := c.Params(method, bizContent, notifyURL)
	if err != nil {
		return &Error{Outcome: OutcomeConfig, Method: method, Err: err}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(withMethod(ctx, method), http.MethodPost, c.cfg.GatewayURL, strings.NewReader(params.Encode()))
	if err != nil {
		return &Error{Outcome: OutcomeConfig, Method: method, Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return transportError(method, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return transportError(method, err)
	}
	traceID := resp.Header.Get("trace_id")
	if resp.StatusCode != http.StatusOK {
		return &Error{Outcome: OutcomeUnknown, Method: method, TraceID: traceID, Err: fmt.Errorf("HTTP %d from the gateway", resp.StatusCode)}
	}
	if len(body) > maxResponse {
		return &Error{Outcome: OutcomeUnknown, Method: method, TraceID: traceID, Err: errors.New("response larger than 4 MiB")}
	}
	return c.DecodeResponse(method, body, traceID, out)
}

// Verification failures of a response, in an *Error's Err: the configured
// Alipay public key (or certificate) is not the one that signed it.
var (
	ErrResponseSignature = errors.New("response signature does not verify with the Alipay public key")
	ErrAlipayCert        = errors.New("unexpected Alipay certificate")
)

// resultHolder is satisfied by every response type through its embedded Result.
type resultHolder interface{ result() *Result }

func (r *Result) result() *Result { return r }

// DecodeResponse verifies a gateway response body and decodes its node into
// out. Exposed for tools and benchmarks; the methods call it.
func (c *Client) DecodeResponse(method string, body []byte, traceID string, out resultHolder) error {
	fail := func(o Outcome, r *Result, err error) *Error {
		e := &Error{Outcome: o, Method: method, TraceID: traceID, Err: err}
		if r != nil {
			e.Code, e.Msg, e.SubCode, e.SubMsg = r.Code, r.Msg, r.SubCode, r.SubMsg
		}
		return e
	}
	raw, err := ExtractResponse(body, method)
	if err != nil {
		return fail(OutcomeUnknown, nil, err)
	}
	// The node is decoded once, into out, and only after its signature
	// verified; on the failure paths a bare head is decoded for the error.
	head := func() *Result {
		var h Result
		json.Unmarshal(raw.Node, &h)
		return &h
	}
	if raw.Sign == "" {
		// §2.3: never a success. Alipay leaves errors unsigned only when it
		// cannot tell which app is calling; report what it said, as unknown.
		return fail(OutcomeUnknown, head(), errors.New("unsigned response"))
	}
	if c.cfg.Cert != nil && raw.AlipayCertSN != "" && raw.AlipayCertSN != c.cfg.Cert.AlipayCertSN {
		return fail(OutcomeUnknown, head(), fmt.Errorf("%w: response signed by Alipay certificate %s, configured %s; download Alipay's new certificate", ErrAlipayCert, raw.AlipayCertSN, c.cfg.Cert.AlipayCertSN))
	}
	if err := c.verifyNode(raw.Node, raw.Sign); err != nil {
		return fail(OutcomeUnknown, head(), ErrResponseSignature)
	}
	if raw.Key == ErrorResponseKey {
		return fail(OutcomeConfig, head(), nil)
	}
	if err := json.Unmarshal(raw.Node, out); err != nil {
		out.result().Code = "" // nothing half-decoded is to be trusted
		return fail(OutcomeUnknown, head(), fmt.Errorf("decode response node: %w", err))
	}
	r := out.result()
	if r.Code == "" {
		return fail(OutcomeUnknown, r, errors.New("response node has no code"))
	}
	switch o := r.Outcome(); o {
	case OutcomeSuccess, OutcomePaying:
		return nil
	default:
		return fail(o, r, nil)
	}
}

// verifyNode checks sign over the node's exact bytes. If that fails and the
// node has "\/" escapes, it tries once more over the text with "/" unescaped,
// as the official PHP SDK does, because Alipay has signed that form (§2.2).
func (c *Client) verifyNode(node []byte, sign string) error {
	err := Verify(c.verifyKey, node, sign)
	if err == nil || !bytes.Contains(node, []byte(`\/`)) {
		return err
	}
	return Verify(c.verifyKey, bytes.ReplaceAll(node, []byte(`\/`), []byte("/")), sign)
}
