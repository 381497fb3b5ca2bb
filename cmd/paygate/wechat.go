package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/paygate/paygate/gateway"
	"github.com/paygate/paygate/telemetry"
	"github.com/paygate/paygate/wechatpay"
)

// wechatOn reports whether the config turns WeChat Pay on: wechat.mch_id
// is set.
func wechatOn(cfg config) bool { return cfg.Wechat.MchID != "" }

// wechatKeys are the wechat: keys that mean nothing without mch_id, by
// name, for the error that says so.
func wechatKeys(cfg config) []struct{ name, value string } {
	w := cfg.Wechat
	return []struct{ name, value string }{
		{"app_id", w.AppID}, {"serial_no", w.SerialNo}, {"private_key_file", w.PrivateKeyFile},
		{"apiv3_key_file", w.APIv3KeyFile}, {"platform_cert_file", w.PlatformCertFile},
		{"public_key_file", w.PublicKeyFile}, {"public_key_id", w.PublicKeyID}, {"notify_url", w.NotifyURL},
	}
}

// checkWechatOff refuses a wechat section that sets keys but not mch_id:
// far likelier a forgotten mch_id than the wish to keep WeChat Pay off.
func checkWechatOff(cfg config) error {
	if wechatOn(cfg) {
		return nil
	}
	for _, k := range wechatKeys(cfg) {
		if k.value != "" {
			return fmt.Errorf("config: wechat.%s is set but wechat.mch_id is not: set mch_id (your 商户号) to take WeChat Pay orders, "+
				"or leave the whole wechat section out", k.name)
		}
	}
	return nil
}

// wechatNotifyURL is where WeChat Pay notifies: wechat.notify_url, else
// server.public_url + /notify/wechat.
func wechatNotifyURL(cfg config) (string, error) {
	if u := cfg.Wechat.NotifyURL; u != "" {
		if err := wechatpay.CheckNotifyURL(u); err != nil {
			return "", fmt.Errorf("config: wechat.notify_url: %w", err)
		}
		return u, nil
	}
	if cfg.Server.PublicURL == "" {
		return "", errors.New("config: server.public_url (or wechat.notify_url) is required: it is where WeChat Pay sends notifications")
	}
	u := strings.TrimRight(cfg.Server.PublicURL, "/") + "/notify/wechat"
	if err := wechatpay.CheckNotifyURL(u); err != nil {
		return "", fmt.Errorf("config: server.public_url makes WeChat Pay's notify_url %s, which it refuses (set wechat.notify_url): %w", u, err)
	}
	return u, nil
}

// newWechatClient builds the WeChat Pay client of the wechat: section,
// reading its key files; nil, nil when WeChat Pay is off. Every error names
// the key at fault; none shows a key's content.
func newWechatClient(cfg config) (*wechatpay.Client, error) {
	if err := checkWechatOff(cfg); err != nil || !wechatOn(cfg) {
		return nil, err
	}
	w := cfg.Wechat
	if strings.Trim(w.MchID, "0123456789") != "" {
		return nil, fmt.Errorf("config: wechat.mch_id %q is not a 商户号: digits only", w.MchID)
	}
	if w.AppID == "" {
		return nil, errors.New("config: wechat.app_id is required with wechat.mch_id: the AppID bound to the merchant (wx…)")
	}
	serial := strings.ToUpper(strings.TrimSpace(w.SerialNo))
	switch {
	case serial == "":
		return nil, errors.New("config: wechat.serial_no is required: the merchant API certificate's serial number, as the merchant " +
			"platform shows it (or: openssl x509 -noout -serial -in apiclient_cert.pem)")
	case strings.Trim(serial, "0123456789ABCDEF") != "":
		return nil, fmt.Errorf("config: wechat.serial_no %q is not a certificate serial: hexadecimal digits only", w.SerialNo)
	}
	if w.PrivateKeyFile == "" {
		return nil, errors.New("config: wechat.private_key_file is required: the merchant API private key (apiclient_key.pem)")
	}
	key, err := wechatpay.LoadPrivateKey(w.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("config: wechat.private_key_file: %w", err)
	}
	if w.APIv3KeyFile == "" {
		return nil, errors.New("config: wechat.apiv3_key_file is required: a file holding the APIv3 key, which decrypts WeChat Pay's notifications")
	}
	apiv3, err := wechatpay.LoadAPIv3Key(w.APIv3KeyFile)
	if err != nil {
		return nil, fmt.Errorf("config: wechat.apiv3_key_file: %w", err)
	}
	keys, err := wechatPayKeys(cfg)
	if err != nil {
		return nil, err
	}
	if err := checkWechatBaseURL(w.BaseURL); err != nil {
		return nil, err
	}
	if w.CallTimeout <= 0 {
		return nil, fmt.Errorf("config: wechat.call_timeout must be positive, not %s", w.CallTimeout)
	}
	notifyURL, err := wechatNotifyURL(cfg)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = channelIdleConns
	c, err := wechatpay.New(wechatpay.Config{
		MchID: w.MchID, AppID: w.AppID, BaseURL: w.BaseURL, PrivateKey: key, SerialNo: serial,
		WechatPayKeys: keys, APIv3Key: apiv3, NotifyURL: notifyURL, Timeout: w.CallTimeout,
		HTTPClient: &http.Client{Transport: wechatTracedTransport(transport, cfg.tracer)},
	})
	if err != nil {
		return nil, fmt.Errorf("config: wechat: %w", err)
	}
	return c, nil
}

// wechatPayKeys reads the keys WeChat Pay's answers and notifications are
// verified with: the platform certificate, the public key with its ID, or
// both (while a merchant moves from one mode to the other, WeChat Pay may
// sign with either).
func wechatPayKeys(cfg config) ([]wechatpay.PublicKey, error) {
	w := cfg.Wechat
	var keys []wechatpay.PublicKey
	if w.PlatformCertFile != "" {
		k, err := wechatpay.LoadPlatformCertificate(w.PlatformCertFile)
		if err != nil {
			return nil, fmt.Errorf("config: wechat.platform_cert_file: %w", err)
		}
		keys = append(keys, k)
	}
	switch {
	case w.PublicKeyFile != "" && w.PublicKeyID == "":
		return nil, errors.New("config: wechat.public_key_id is required with wechat.public_key_file: the key's PUB_KEY_ID_…, as the merchant platform shows it")
	case w.PublicKeyFile == "" && w.PublicKeyID != "":
		return nil, errors.New("config: wechat.public_key_id is set without wechat.public_key_file: the WeChat Pay public key (pub_key.pem) it names")
	case w.PublicKeyFile != "":
		k, err := wechatpay.LoadPublicKey(w.PublicKeyFile, w.PublicKeyID)
		if err != nil {
			return nil, fmt.Errorf("config: wechat.public_key_file, wechat.public_key_id: %w", err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("config: wechat.public_key_file with wechat.public_key_id (public-key mode), or wechat.platform_cert_file " +
			"(certificate mode), is required: the key WeChat Pay's answers and notifications are verified with")
	}
	if len(keys) == 2 && keys[0].ID == keys[1].ID {
		return nil, fmt.Errorf("config: wechat.platform_cert_file and wechat.public_key_id both name %s", keys[0].ID)
	}
	return keys, nil
}

// checkWechatBaseURL refuses a base_url the client could not call.
func checkWechatBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return fmt.Errorf("config: wechat.base_url %q is not an http(s) URL without a query (WeChat Pay's is %s)", s, wechatpay.ProductionURL)
	}
	return nil
}

// wechatRouteParams are the path segments after which WeChat Pay's paths
// name one trade or refund (…/out-trade-no/{no}, …/id/{transaction_id},
// …/refunds/{out_refund_no}).
var wechatRouteParams = map[string]bool{"out-trade-no": true, "id": true, "refunds": true}

// wechatRoute is a request's path with the trade or refund it names
// replaced by "{…}": a span name of few values.
func wechatRoute(path string) string {
	segs := strings.Split(path, "/")
	for i := 1; i < len(segs); i++ {
		if wechatRouteParams[segs[i-1]] && segs[i] != "" {
			segs[i] = "{…}"
		}
	}
	return strings.Join(segs, "/")
}

// wechatTracedTransport wraps base so that every call to WeChat Pay is an
// OpenTelemetry client span (otelhttp) named "wechatpay METHOD route"
// ("wechatpay POST /v3/pay/transactions/native"), as the Alipay client's
// calls are; with tp nil it returns base unchanged.
func wechatTracedTransport(base http.RoundTripper, tp trace.TracerProvider) http.RoundTripper {
	if tp == nil {
		return base
	}
	return otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(telemetry.Propagator()),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return "wechatpay " + r.Method + " " + wechatRoute(r.URL.Path)
		}),
	)
}

// timedChannel bounds every call of a channel by that channel's own
// call_timeout. The gateway bounds each call by the longest of the
// channels' (gateway.Config.CallTimeout), so that alipay.call_timeout and
// wechat.call_timeout each hold for their own channel.
type timedChannel struct {
	gateway.Channel
	timeout time.Duration
}

func (c timedChannel) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

func (c timedChannel) Precreate(ctx context.Context, req gateway.PrecreateRequest) (*gateway.Precreated, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	return c.Channel.Precreate(ctx, req)
}

func (c timedChannel) Pay(ctx context.Context, req gateway.PayRequest) (*gateway.Trade, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	return c.Channel.Pay(ctx, req)
}

func (c timedChannel) Query(ctx context.Context, channelNo string) (*gateway.Trade, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	return c.Channel.Query(ctx, channelNo)
}

func (c timedChannel) Cancel(ctx context.Context, channelNo string) (*gateway.Cancellation, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	return c.Channel.Cancel(ctx, channelNo)
}

func (c timedChannel) Close(ctx context.Context, channelNo string) error {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	return c.Channel.Close(ctx, channelNo)
}

func (c timedChannel) Refund(ctx context.Context, req gateway.RefundRequest) (*gateway.RefundResult, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	return c.Channel.Refund(ctx, req)
}

func (c timedChannel) RefundQuery(ctx context.Context, ref gateway.RefundRef) (*gateway.RefundResult, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	return c.Channel.RefundQuery(ctx, ref)
}

// logChannels says at start which payment channels take orders, with the
// accounts and addresses they use (never a key).
func logChannels(logger *slog.Logger, cfg config) {
	names := []string{"alipay"}
	attrs := []any{slog.Group("alipay", "app_id", cfg.Alipay.AppID, "gateway_url", cfg.Alipay.GatewayURL)}
	if wechatOn(cfg) {
		names = append(names, "wechat")
		w := cfg.Wechat
		verify := []string{}
		if w.PublicKeyFile != "" {
			verify = append(verify, "public key "+w.PublicKeyID)
		}
		if w.PlatformCertFile != "" {
			verify = append(verify, "platform certificate "+w.PlatformCertFile)
		}
		attrs = append(attrs, slog.Group("wechat", "mch_id", w.MchID, "app_id", w.AppID, "base_url", w.BaseURL,
			"verified_with", strings.Join(verify, ", ")))
	} else {
		attrs = append(attrs, "wechat", "off (no wechat.mch_id)")
	}
	logger.Info("payment channels: "+strings.Join(names, ", "), attrs...)
}
