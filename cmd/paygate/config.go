package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.yaml.in/yaml/v3"

	"github.com/paygate/paygate/wechatpay"
)

// config is the whole configuration: a YAML file, every key overridable by
// PAYGATE_<SECTION>_<KEY> (see applyEnv). Secrets are never in the struct's
// printed form: keys are file paths, and the master key is read at wiring.
type config struct {
	Server struct {
		Addr            string        `yaml:"addr"`             // listen address
		PublicURL       string        `yaml:"public_url"`       // how Alipay and buyers reach this node
		ShutdownTimeout time.Duration `yaml:"shutdown_timeout"` // in-flight requests get this long to finish
		DrainDelay      time.Duration `yaml:"drain_delay"`      // readiness is false this long before shutdown
		// Protection against slow, idle and too many clients.
		MaxConnections    int           `yaml:"max_connections"`     // open connections at most; more wait to be accepted
		ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"` // a request's headers must arrive within this
		ReadTimeout       time.Duration `yaml:"read_timeout"`        // a request's headers and body must arrive within this
		WriteTimeout      time.Duration `yaml:"write_timeout"`       // 0: read_timeout + the longest barcode wait + 10 s
		IdleTimeout       time.Duration `yaml:"idle_timeout"`        // an idle keep-alive connection is closed after this
		MaxHeaderBytes    int           `yaml:"max_header_bytes"`    // request line and headers at most
		TrustedProxies    string        `yaml:"trusted_proxies"`     // comma-separated CIDRs whose X-Forwarded-For is believed
		SingleNode        bool          `yaml:"single_node"`         // PostgreSQL without redis.url: the operator runs one node only
		AdminAddr         string        `yaml:"admin_addr"`          // serve: /metrics listens here, apart from the API; empty: not served
		Pprof             bool          `yaml:"pprof"`               // serve: also net/http/pprof under /debug/pprof/ on admin_addr (for profiling; off by default)
	} `yaml:"server"`
	Database struct {
		URL string `yaml:"url"` // sqlite:PATH or postgres://...
	} `yaml:"database"`
	Secrets struct {
		MasterKey     string `yaml:"master_key"`      // 64 hex digits or base64 of 32 bytes
		MasterKeyFile string `yaml:"master_key_file"` // or a file holding it
	} `yaml:"secrets"`
	Redis struct {
		URL string `yaml:"url"` // optional: shared nonce cache for replicas
	} `yaml:"redis"`
	Alipay struct {
		AppID               string        `yaml:"app_id"`
		GatewayURL          string        `yaml:"gateway_url"`
		PrivateKeyFile      string        `yaml:"private_key_file"`
		AlipayPublicKeyFile string        `yaml:"alipay_public_key_file"`
		AppCertFile         string        `yaml:"app_cert_file"`
		AlipayCertFile      string        `yaml:"alipay_cert_file"`
		AlipayRootCertFile  string        `yaml:"alipay_root_cert_file"`
		SellerID            string        `yaml:"seller_id"`         // every notification must name it; serve requires it...
		SkipSellerCheck     bool          `yaml:"skip_seller_check"` // ...unless this says, on purpose, not to check
		NotifyURL           string        `yaml:"notify_url"`        // default public_url + /notify/alipay
		CallTimeout         time.Duration `yaml:"call_timeout"`
		NotifyAllowlist     string        `yaml:"notify_allowlist"`   // comma-separated CIDRs; empty: any address may notify
		SkipStartupCheck    bool          `yaml:"skip_startup_check"` // serve: do not refuse to start when the startup query shows a key mismatch
	} `yaml:"alipay"`
	// Wechat is WeChat Pay (微信支付) for a direct merchant (普通商户), APIv3;
	// off while mch_id is empty (see wechatOn).
	Wechat struct {
		MchID            string        `yaml:"mch_id"`             // 商户号; empty: WeChat Pay is off
		AppID            string        `yaml:"app_id"`             // the AppID bound to mch_id
		SerialNo         string        `yaml:"serial_no"`          // the merchant API certificate's serial, hex
		PrivateKeyFile   string        `yaml:"private_key_file"`   // the merchant API private key (apiclient_key.pem)
		APIv3KeyFile     string        `yaml:"apiv3_key_file"`     // a file holding the 32-byte APIv3 key
		PlatformCertFile string        `yaml:"platform_cert_file"` // WeChat Pay's platform certificate (certificate mode)...
		PublicKeyFile    string        `yaml:"public_key_file"`    // ...and/or WeChat Pay's public key (微信支付公钥, public-key mode)
		PublicKeyID      string        `yaml:"public_key_id"`      // with public_key_file: its PUB_KEY_ID_…
		BaseURL          string        `yaml:"base_url"`           // WeChat Pay's API; a simulator otherwise
		NotifyURL        string        `yaml:"notify_url"`         // default public_url + /notify/wechat
		CallTimeout      time.Duration `yaml:"call_timeout"`       // deadline of every call to WeChat Pay
	} `yaml:"wechat"`
	Channel struct {
		BreakerFailures int           `yaml:"breaker_failures"` // consecutive channel failures that open the circuit
		BreakerOpen     time.Duration `yaml:"breaker_open"`     // how long new orders get 503 before a probe
		RetryAttempts   int           `yaml:"retry_attempts"`   // attempts of a call safe to repeat, the first included
		RetryBase       time.Duration `yaml:"retry_base"`       // first backoff bound, doubling per retry, jittered
		RetryMax        time.Duration `yaml:"retry_max"`        // backoff cap
	} `yaml:"channel"`
	Auth struct {
		Tolerance        time.Duration `yaml:"tolerance"`
		MerchantCacheTTL time.Duration `yaml:"merchant_cache_ttl"` // a merchant found by access key is reused this long
	} `yaml:"auth"`
	RateLimit struct {
		PerSecond             float64 `yaml:"per_second"`
		Burst                 int     `yaml:"burst"`
		IPPerSecond           float64 `yaml:"ip_per_second"`            // API requests per client address, before authentication
		IPBurst               int     `yaml:"ip_burst"`                 //
		AuthFailuresPerSecond float64 `yaml:"auth_failures_per_second"` // failed authentications per client address
		AuthFailuresBurst     int     `yaml:"auth_failures_burst"`      //
		UnknownKeyPerSecond   float64 `yaml:"unknown_key_per_second"`   // store lookups finding no merchant, per claimed access key
		UnknownKeyBurst       int     `yaml:"unknown_key_burst"`        //
		NotifyPerSecond       float64 `yaml:"notify_per_second"`        // /notify/alipay per client address
		NotifyBurst           int     `yaml:"notify_burst"`             //
	} `yaml:"rate_limit"`
	Orders struct {
		DefaultTimeout time.Duration `yaml:"default_timeout"`
		LatePayment    string        `yaml:"late_payment"` // refund (default) or report: money for a closed order
	} `yaml:"orders"`
	Barcode struct {
		PollInterval time.Duration `yaml:"poll_interval"`
		PollTimeout  time.Duration `yaml:"poll_timeout"`
	} `yaml:"barcode"`
	Jobs struct {
		CompensateAfter    time.Duration `yaml:"compensate_after"`    // a pending order without news is queried after this
		CompensateInterval time.Duration `yaml:"compensate_interval"` // then again, backing off up to 10x
		Workers            int           `yaml:"workers"`             // per queue and node
		PollInterval       time.Duration `yaml:"poll_interval"`       // how often idle workers look for due jobs
		JobTimeout         time.Duration `yaml:"job_timeout"`         // one run of a job at most
		NodeTimeout        time.Duration `yaml:"node_timeout"`        // a node silent this long is dead: its running jobs are handed back at once
		RescueAfter        time.Duration `yaml:"rescue_after"`        // backstop: a job running this long is run again whatever its node; default job_timeout + 1m
	} `yaml:"jobs"`
	Webhooks struct {
		RetrySchedule        string `yaml:"retry_schedule"`         // delays before each retry, e.g. "10s,30s,1m,..."
		AllowPrivateNetworks bool   `yaml:"allow_private_networks"` // let deliveries connect to loopback, private, link-local… addresses (demo: true)
		AllowHTTP            bool   `yaml:"allow_http"`             // let deliveries use plain http:// (demo: true); else https only
	} `yaml:"webhooks"`
	Reconcile struct {
		Disabled bool          `yaml:"disabled"` // no daily jobs (reconcile by hand, or on another system)
		At       time.Duration `yaml:"at"`       // when the daily jobs (one per configured channel) run, from midnight China time (10h: 10:00), for the day before
		Repair   bool          `yaml:"repair"`   // the daily jobs repair forward differences by the channel's word
		Margin   time.Duration `yaml:"margin"`   // entries this close to midnight are also sought on the neighbouring day's bill
		TempDir  string        `yaml:"temp_dir"` // where the bill and the sort's runs are spilled; default the system's
		Retry    time.Duration `yaml:"retry"`    // a daily job asks again this long after its channel has no bill yet
	} `yaml:"reconcile"`
	Console struct {
		SessionTTL     time.Duration `yaml:"session_ttl"`     // an operator's session token lives this long, renewed on use past half of it
		InsecureCookie bool          `yaml:"insecure_cookie"` // the session cookie without Secure: only for http:// on loopback (the demo)
	} `yaml:"console"`
	Activity struct {
		Retention time.Duration `yaml:"retention"` // order activity (channel calls, notifications) older than this is pruned daily; 0 keeps it forever
	} `yaml:"activity"`
	Cashier struct {
		MaxStreams   int           `yaml:"max_streams"`   // live event streams of the buyers' pages open at once on a node; more get 503 and retry
		PollInterval time.Duration `yaml:"poll_interval"` // how often a page's order is read for its live stream (one read per order, however many watch it)
	} `yaml:"cashier"`
	Log struct {
		Level string `yaml:"level"` // debug, info, warn, error
	} `yaml:"log"`
	// tracer is not a setting: the OTEL_* environment makes it (see
	// startTracing); nil when tracing is off.
	tracer trace.TracerProvider
}

// defaultConfig is what an empty file means.
func defaultConfig() config {
	var c config
	c.Server.Addr = ":8080"
	c.Server.ShutdownTimeout = 30 * time.Second
	c.Server.DrainDelay = 5 * time.Second
	c.Server.MaxConnections = 1024
	c.Server.ReadHeaderTimeout = 10 * time.Second
	c.Server.ReadTimeout = 30 * time.Second
	c.Server.IdleTimeout = 75 * time.Second
	c.Server.MaxHeaderBytes = 64 << 10
	c.Database.URL = "sqlite:paygate-data/paygate.db"
	c.Alipay.GatewayURL = "https://openapi.alipay.com/gateway.do"
	c.Alipay.CallTimeout = 15 * time.Second
	c.Wechat.BaseURL = wechatpay.ProductionURL
	c.Wechat.CallTimeout = 15 * time.Second
	c.Channel.BreakerFailures = 5
	c.Channel.BreakerOpen = 30 * time.Second
	c.Channel.RetryAttempts = 3
	c.Channel.RetryBase = 200 * time.Millisecond
	c.Channel.RetryMax = 2 * time.Second
	c.Auth.Tolerance = 300 * time.Second
	c.Auth.MerchantCacheTTL = 10 * time.Second
	c.RateLimit.PerSecond = 100
	c.RateLimit.Burst = 200
	c.RateLimit.IPPerSecond = 1000
	c.RateLimit.IPBurst = 2000
	c.RateLimit.AuthFailuresPerSecond = 1
	c.RateLimit.AuthFailuresBurst = 20
	c.RateLimit.UnknownKeyPerSecond = 1
	c.RateLimit.UnknownKeyBurst = 5
	c.RateLimit.NotifyPerSecond = 100
	c.RateLimit.NotifyBurst = 200
	c.Orders.DefaultTimeout = 2 * time.Hour
	c.Orders.LatePayment = "refund"
	c.Barcode.PollInterval = 3 * time.Second
	c.Barcode.PollTimeout = 30 * time.Second
	c.Jobs.CompensateAfter = time.Minute
	c.Jobs.CompensateInterval = 30 * time.Second
	c.Jobs.Workers = 10
	c.Jobs.PollInterval = time.Second
	c.Jobs.JobTimeout = 2 * time.Minute
	c.Jobs.NodeTimeout = 15 * time.Second
	c.Webhooks.RetrySchedule = "10s,30s,1m,5m,15m,30m,1h,2h,4h,8h,12h"
	c.Reconcile.At = 10 * time.Hour
	c.Reconcile.Repair = true
	c.Reconcile.Margin = 15 * time.Minute
	c.Reconcile.Retry = 30 * time.Minute
	c.Console.SessionTTL = 15 * time.Minute
	c.Activity.Retention = 90 * 24 * time.Hour
	c.Cashier.MaxStreams = 512
	c.Cashier.PollInterval = time.Second
	c.Log.Level = "info"
	return c
}

// loadConfig reads path (if not empty) over the defaults, strictly: an
// unknown key is an error, so a typo never silently keeps a default. Then
// the environment overrides.
func loadConfig(path string, environ []string) (config, error) {
	c := defaultConfig()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) { // empty file: defaults
			return c, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(&c, environ); err != nil {
		return c, err
	}
	return c, nil
}

// envExempt are the prefixes of PAYGATE_ variables that are not settings:
// the tests' (PAYGATE_TEST_POSTGRES_URL, ...), the chaos suite's, and where
// browser tests keep their screenshots (testenv/browser.ScreenshotsVar).
var envExempt = []string{"PAYGATE_TEST_", "PAYGATE_CHAOS_", "PAYGATE_UPDATE_GOLDEN", "PAYGATE_SCREENSHOTS"}

// envClient are the PAYGATE_ variables a merchant's tools read, not the
// node's settings (`paygate listen --url`'s secrets): a developer who
// exports them can still run the other commands.
var envClient = []string{envSecretKey, envWebhookSecret}

// applyEnv sets every PAYGATE_<SECTION>_<KEY> found in environ onto c, the
// section and key being the YAML names upper-cased. Any other PAYGATE_
// variable is an error naming it (and the closest setting), so a typo such
// as PAYGATE_DATABSE_URL never silently keeps a default; only the test
// variables (envExempt) are left alone. A malformed value is an error
// naming the variable.
func applyEnv(c *config, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "PAYGATE_") && !envIsExempt(k) {
			env[k] = v
		}
	}
	known := envNames(c)
	var unknown []string
	for k := range env {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		msg := fmt.Sprintf("config: unknown environment variable %s", unknown[0])
		if near := closest(unknown[0], known); near != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", near)
		}
		if len(unknown) > 1 {
			msg += fmt.Sprintf("; also unknown: %s", strings.Join(unknown[1:], ", "))
		}
		return errors.New(msg + "; every PAYGATE_ variable must name a setting, PAYGATE_<SECTION>_<KEY>")
	}
	root := reflect.ValueOf(c).Elem()
	for i := 0; i < root.NumField(); i++ {
		if !root.Type().Field(i).IsExported() {
			continue // not a setting
		}
		section := root.Type().Field(i).Tag.Get("yaml")
		sv := root.Field(i)
		for j := 0; j < sv.NumField(); j++ {
			key := sv.Type().Field(j).Tag.Get("yaml")
			name := "PAYGATE_" + strings.ToUpper(section) + "_" + strings.ToUpper(key)
			v, ok := env[name]
			if !ok {
				continue
			}
			if err := setField(sv.Field(j), v); err != nil {
				return fmt.Errorf("config: %s=%q: %w", name, v, err)
			}
		}
	}
	return nil
}

func envIsExempt(name string) bool {
	if slices.Contains(envClient, name) {
		return true
	}
	for _, p := range envExempt {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// envNames lists every setting's variable name.
func envNames(c *config) []string {
	var names []string
	root := reflect.ValueOf(c).Elem()
	for i := 0; i < root.NumField(); i++ {
		if !root.Type().Field(i).IsExported() {
			continue // not a setting
		}
		section := root.Type().Field(i).Tag.Get("yaml")
		st := root.Field(i).Type()
		for j := 0; j < st.NumField(); j++ {
			names = append(names, "PAYGATE_"+strings.ToUpper(section)+"_"+strings.ToUpper(st.Field(j).Tag.Get("yaml")))
		}
	}
	return names
}

// closest is the known name nearest to name by edit distance, if it is
// near enough to be a typo (at most a third of its length away).
func closest(name string, known []string) string {
	best, bestD := "", len(name)/3+1
	for _, k := range known {
		if d := editDistance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func setField(f reflect.Value, v string) error {
	switch {
	case f.Type() == reflect.TypeOf(time.Duration(0)):
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("not a duration like 30s or 5m")
		}
		f.SetInt(int64(d))
	case f.Kind() == reflect.String:
		f.SetString(v)
	case f.Kind() == reflect.Int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("not an integer")
		}
		f.SetInt(int64(n))
	case f.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return errors.New("not a number")
		}
		f.SetFloat(x)
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("not true or false")
		}
		f.SetBool(b)
	default:
		return fmt.Errorf("unsupported kind %s", f.Kind())
	}
	return nil
}
