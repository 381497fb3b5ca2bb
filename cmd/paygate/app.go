package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/cashier"
	"github.com/paygate/paygate/console"
	"github.com/paygate/paygate/gateway"
	"github.com/paygate/paygate/httpapi"
	"github.com/paygate/paygate/jobs"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/recon"
	"github.com/paygate/paygate/redis"
	"github.com/paygate/paygate/sqlite"
	"github.com/paygate/paygate/telemetry"
)

// app is one gateway node wired from a config: store, channel, use cases and
// the HTTP server. cmd is the only place adapters meet.
type app struct {
	cfg     config
	log     *slog.Logger
	store   paygate.Store
	service *gateway.Service
	alipay  *alipay.Client // the channel without retries or breaker, for serve's startup check
	queue   *jobs.Queue
	metrics *metrics
	// activity writes the order activities the service reports; drained
	// after the jobs when the node stops.
	activity *gateway.ActivityLog
	api      *httpapi.Server
	cashier  *cashier.Handler // the buyers' pages under /pay/
	// merchants is merchant administration on this node's store, its
	// changes seen by this node's API at once (the console's, beside the
	// CLI's own in another process).
	merchants *gateway.Merchants
	limits    httpLimits      // of the HTTP server
	redis     *goredis.Client // nil unless redis.url is set
	started   time.Time       // when newApp made the node, for the console's health page
	closers   []func() error
}

// newLogger writes JSON lines to w at the configured level.
func newLogger(w interface{ Write([]byte) (int, error) }, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("config: log.level %q is not debug, info, warn or error", level)
	}
	// Lines logged with a request's or a job's context carry its
	// request_id and trace_id (telemetry.LogHandler).
	return slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))), nil
}

// loadMasterKey reads the master key from the config or its file.
func loadMasterKey(cfg config) ([]byte, error) {
	raw := cfg.Secrets.MasterKey
	if raw == "" && cfg.Secrets.MasterKeyFile != "" {
		b, err := os.ReadFile(cfg.Secrets.MasterKeyFile)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("master key file %s does not exist: run paygate demo on this data directory once, "+
				"or set secrets.master_key (PAYGATE_SECRETS_MASTER_KEY)", cfg.Secrets.MasterKeyFile)
		}
		if err != nil {
			return nil, fmt.Errorf("master key: %w", err)
		}
		raw = string(b)
	}
	if raw == "" {
		return nil, errors.New("config: secrets.master_key (or secrets.master_key_file, or PAYGATE_SECRETS_MASTER_KEY) is required to encrypt merchant secrets")
	}
	key, err := paygate.ParseMasterKey(raw)
	if err != nil {
		return nil, fmt.Errorf("config: secrets: %w", err)
	}
	return key, nil
}

// loadSealer reads the master key from the config or its file.
func loadSealer(cfg config) (*paygate.Sealer, error) {
	key, err := loadMasterKey(cfg)
	if err != nil {
		return nil, err
	}
	return paygate.NewSealer(key)
}

// storeCloser is what both stores are.
type storeCloser interface {
	paygate.Store
	paygate.KeyChecker
	Migrate(ctx context.Context) error
}

// openData opens the configured store with the master key, migrates it and
// checks the key against the one the database was sealed with (recording it
// at first use): every command that reads or writes the data comes here, so
// a wrong key is refused at once, never by every later call.
func openData(ctx context.Context, cfg config) (storeCloser, error) {
	sealer, err := loadSealer(cfg)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg.Database.URL, sealer, postgres.WithTracing(cfg.tracer))
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if err := st.CheckMasterKey(ctx); err != nil {
		st.Close()
		var mismatch *paygate.KeyMismatchError
		if errors.As(err, &mismatch) {
			return nil, fmt.Errorf("secrets.master_key does not match the key this database was sealed with (%s): "+
				"start with the key the database was made with; another key cannot open its merchants' secrets", mismatch.Detail())
		}
		return nil, err
	}
	return st, nil
}

// openStore opens database.url: sqlite:PATH or postgres://. A SQLite file
// whose directory does not exist is refused: it is far likelier a typo than
// the wish for a new, empty database (the demo makes its own directory).
func openStore(ctx context.Context, url string, sealer *paygate.Sealer, popts ...postgres.Option) (storeCloser, error) {
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		if err := checkSQLiteDir(url); err != nil {
			return nil, err
		}
		return sqlite.Open(ctx, strings.TrimPrefix(url, "sqlite:"), sealer)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return postgres.Open(ctx, url, sealer, popts...)
	}
	return nil, fmt.Errorf("config: database.url must be sqlite:PATH or postgres://…, not %q", redactURL(url))
}

// checkSQLiteDir fails unless a sqlite: URL's directory exists.
func checkSQLiteDir(url string) error {
	path, ok := strings.CutPrefix(url, "sqlite:")
	if !ok {
		return nil
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("config: database.url: directory %s does not exist: create it (mkdir -p %s) if sqlite:%s is meant, "+
			"paygate does not make a new empty database in a directory that is not there", dir, dir, path)
	case err != nil:
		return fmt.Errorf("config: database.url: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("config: database.url: %s is not a directory", dir)
	}
	return nil
}

// passwordParam is a password=VALUE setting in a key=value connection
// string or a URL's query, VALUE quoted or not.
var passwordParam = regexp.MustCompile(`(?i)(password=)('[^']*'|[^\s&]*)`)

// redactURL hides a password in a database URL before it reaches an error:
// the user information (up to the last "@", since a password may hold one;
// hiding too much is safe, too little is not) and any password= setting.
func redactURL(u string) string {
	if scheme := strings.Index(u, "://"); scheme > 0 {
		if at := strings.LastIndex(u, "@"); at > scheme {
			u = u[:scheme+3] + "…" + u[at:]
		}
	}
	return passwordParam.ReplaceAllString(u, "${1}…")
}

// newApp wires a node. mounts add routes beside the API (the demo's
// simulator). The store is migrated: serve and demo apply migrations too.
func newApp(ctx context.Context, cfg config, logger *slog.Logger, mounts []httpapi.Mount) (*app, error) {
	a := &app{cfg: cfg, log: logger, started: time.Now()}
	ok := false
	defer func() {
		if !ok {
			a.close()
		}
	}()
	if err := checkSQLiteDir(cfg.Database.URL); err != nil {
		return nil, err
	}
	unlock, err := lockServing(cfg.Database.URL)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, unlock)
	st, err := openData(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a.store = st
	a.closers = append(a.closers, st.Close)
	a.queue, err = newQueue(ctx, st, cfg, logger)
	if err != nil {
		return nil, err
	}
	a.metrics = newMetrics()
	if err := a.metrics.watchDatabase(st); err != nil {
		return nil, err
	}
	if err := checkActivity(cfg); err != nil {
		return nil, err
	}
	a.activity = newActivityLog(st, logger, a.metrics.watchActivity())
	a.closers = append(a.closers, closeActivity(a.activity)) // before the store closes
	a.alipay, a.service, err = newService(cfg, st, a.queue, logger, a.metrics, a.activity)
	if err != nil {
		return nil, err
	}
	logChannels(logger, cfg)
	schedulePrune(cfg, a.queue, st)
	jobs.RegisterCompensation(a.queue, jobs.ObserveCompensation(a.service, a.metrics))
	if err := scheduleReconcile(cfg, a, logger); err != nil {
		return nil, err
	}
	jobs.RegisterWebhooks(a.queue, jobs.WebhookConfig{Store: st, Logger: logger, Egress: jobs.EgressPolicy{
		AllowPrivateNetworks: cfg.Webhooks.AllowPrivateNetworks, AllowHTTP: cfg.Webhooks.AllowHTTP,
	}, Observer: a.metrics})
	if a.limits, err = serverLimits(cfg, a.service.BarcodeWindow()); err != nil {
		return nil, err
	}
	nonces, noncesReady, err := newNonces(ctx, cfg, logger, a)
	if err != nil {
		return nil, err
	}
	trusted, err := parsePrefixes("server.trusted_proxies", cfg.Server.TrustedProxies)
	if err != nil {
		return nil, err
	}
	allow, err := parsePrefixes("alipay.notify_allowlist", cfg.Alipay.NotifyAllowlist)
	if err != nil {
		return nil, err
	}
	events := &jobs.EventService{Store: st, Queue: a.queue}
	a.merchants = &gateway.Merchants{Store: st, Jobs: a.queue, Changed: func(accessKey string) {
		if a.api != nil { // made below, before the node serves
			a.api.ForgetMerchant(accessKey)
		}
	}}
	checks := readyChecks(st, noncesReady)
	consoleMounts, err := newConsole(cfg, a, events, checks, trusted, logger)
	if err != nil {
		return nil, err
	}
	if a.cashier, err = newCashier(cfg, st, logger); err != nil {
		return nil, err
	}
	mounts = append(slices.Clip(mounts), httpapi.Mount{Path: cashier.Prefix, Handler: a.cashier, RedactPath: cashier.RedactPath})
	rl := cfg.RateLimit
	a.api = httpapi.New(httpapi.Config{
		Orders: a.service, Merchants: st, Idempotency: st, Nonces: nonces, Logger: logger,
		Tolerance:        cfg.Auth.Tolerance,
		IdempotencyLease: idempotencyLease(a.service),
		MerchantCacheTTL: cfg.Auth.MerchantCacheTTL,
		RateLimit:        httpapi.RateLimit{PerSecond: rl.PerSecond, Burst: rl.Burst},
		IPRateLimit:      httpapi.RateLimit{PerSecond: rl.IPPerSecond, Burst: rl.IPBurst},
		AuthFailureLimit: httpapi.RateLimit{PerSecond: rl.AuthFailuresPerSecond, Burst: rl.AuthFailuresBurst},
		UnknownKeyLimit:  httpapi.RateLimit{PerSecond: rl.UnknownKeyPerSecond, Burst: rl.UnknownKeyBurst},
		NotifyRateLimit:  httpapi.RateLimit{PerSecond: rl.NotifyPerSecond, Burst: rl.NotifyBurst},
		TrustedProxies:   trusted,
		NotifyAllowlist:  allow,
		Ready:            readiness(checks),
		Events:           events,
		Reconciliations:  st,
		TracerProvider:   cfg.tracer,
		Mounts:           append(consoleMounts, mounts...), // not /metrics: serve has it on server.admin_addr, the demo mounts it
		PublicURL:        cfg.Server.PublicURL,
		Observer:         a.metrics,
	})
	a.metrics.watchRoutes(a.api.Routes())
	ok = true
	return a, nil
}

// newCashier builds the buyers' pages (/pay/{token}) over the store. Their
// links are server.public_url + /pay/…: without it orders carry no
// cashier_url, which is said once at start.
func newCashier(cfg config, st paygate.Store, logger *slog.Logger) (*cashier.Handler, error) {
	c := cfg.Cashier
	if c.MaxStreams < 0 || c.PollInterval < 0 {
		return nil, errors.New("config: cashier.max_streams and cashier.poll_interval must not be negative")
	}
	if cfg.Server.PublicURL == "" {
		logger.Warn("server.public_url is not set: QR orders carry no cashier_url (the cashier pages are still served under /pay/)")
	}
	return cashier.New(cashier.Config{
		Store: st, Logger: logger.With("component", "cashier"), PollInterval: c.PollInterval, MaxStreams: c.MaxStreams,
	})
}

// scheduleReconcile registers the daily reconciliation of each configured
// channel (Alipay's, and WeChat Pay's when the wechat: section is set) on
// the node's queue, a job per day and channel (the elected leader among the
// replicas inserts them, once per day each), and feeds the reconciliation
// metrics from the store's reports.
func scheduleReconcile(cfg config, a *app, logger *slog.Logger) error {
	rc := cfg.Reconcile
	if rc.At < 0 || rc.At >= 24*time.Hour {
		return fmt.Errorf("config: reconcile.at must be a time of day from 0s to 23h59m (China time), not %s", rc.At)
	}
	bills, err := reconBills(cfg, a.alipay)
	if err != nil {
		return err
	}
	reconcilers := map[paygate.Channel]*recon.Reconciler{}
	var channels []paygate.Channel
	for _, ch := range paygate.ReconChannels {
		b, ok := bills[ch]
		if !ok {
			continue
		}
		r, err := recon.New(recon.Config{Store: a.store, Bills: b, Repairer: a.service,
			Logger: logger.With("component", "reconcile"), Observer: a.metrics, Margin: rc.Margin, TempDir: rc.TempDir})
		if err != nil {
			return err
		}
		reconcilers[ch] = r
		channels = append(channels, ch)
	}
	a.metrics.watchReconciliation(a.store, channels)
	if rc.Disabled {
		return nil
	}
	jobs.ScheduleReconcile(a.queue, jobs.ReconcileSchedule{Due: rc.At, NotReadyRetry: rc.Retry, Channels: channels},
		func(ctx context.Context, day string, ch paygate.Channel) error {
			r := reconcilers[ch]
			if r == nil {
				return fmt.Errorf("reconcile %s %s: the channel is not configured on this node", ch, day)
			}
			_, err := r.Run(ctx, day, recon.Options{Repair: rc.Repair})
			return err
		})
	return nil
}

// newService builds the channels' clients and the gateway over them: Alipay
// always, WeChat Pay when the config has a wechat section (see
// newWechatClient); each with one breaker for its account (the app id, the
// mchid) and the retries of channel.*, observed when obs is the node's
// metrics, and bounded by its own call_timeout. Follow-up work goes on
// queue, order activities to activity (nil: none recorded). The Alipay
// client is returned bare, for serve's startup check and the bills.
func newService(cfg config, st paygate.Store, queue paygate.JobQueue, logger *slog.Logger, obs gateway.Observer,
	activity gateway.ActivityRecorder) (*alipay.Client, *gateway.Service, error) {
	client, err := newChannel(cfg)
	if err != nil {
		return nil, nil, err
	}
	notifyURL := cfg.Alipay.NotifyURL
	if notifyURL == "" {
		if cfg.Server.PublicURL == "" {
			return nil, nil, errors.New("config: server.public_url (or alipay.notify_url) is required: it is where Alipay sends notifications")
		}
		notifyURL = strings.TrimRight(cfg.Server.PublicURL, "/") + "/notify/alipay"
	}
	alipayCh, err := gateway.NewAlipayChannel(client, gateway.AlipayConfig{NotifyURL: notifyURL, SellerID: cfg.Alipay.SellerID})
	if err != nil {
		return nil, nil, err
	}
	channels := []gateway.Channel{resilientChannel(cfg, alipayCh, cfg.Alipay.AppID, cfg.Alipay.CallTimeout, logger, obs)}
	callTimeout := cfg.Alipay.CallTimeout
	wx, err := newWechatClient(cfg)
	if err != nil {
		return nil, nil, err
	}
	if wx != nil {
		wxNotify, err := wechatNotifyURL(cfg)
		if err != nil {
			return nil, nil, err
		}
		wxCh, err := gateway.NewWechatChannel(wx, gateway.WechatConfig{NotifyURL: wxNotify})
		if err != nil {
			return nil, nil, err
		}
		channels = append(channels, resilientChannel(cfg, wxCh, cfg.Wechat.MchID, cfg.Wechat.CallTimeout, logger, obs))
		callTimeout = max(callTimeout, cfg.Wechat.CallTimeout)
	}
	svc, err := gateway.New(gateway.Config{
		Store: st, Channels: channels, Logger: logger, PublicURL: cfg.Server.PublicURL,
		DefaultTimeout: cfg.Orders.DefaultTimeout, CallTimeout: callTimeout,
		PollInterval: cfg.Barcode.PollInterval, PollTimeout: cfg.Barcode.PollTimeout,
		Jobs: queue, CompensateAfter: cfg.Jobs.CompensateAfter, CompensateInterval: cfg.Jobs.CompensateInterval,
		LatePayment: gateway.LatePaymentPolicy(cfg.Orders.LatePayment), Observer: obs, Activity: activity,
	})
	if err != nil {
		return nil, nil, err
	}
	return client, svc, nil
}

// resilientChannel wraps one channel account as every channel is taken:
// the breaker and retries of channel.* named by account, its state and
// calls in the metrics when obs is the node's, each call bounded by
// timeout.
func resilientChannel(cfg config, inner gateway.Channel, account string, timeout time.Duration, logger *slog.Logger,
	obs gateway.Observer) gateway.Channel {
	rc := gateway.NewResilientChannel(inner, gateway.ResilientConfig{
		Name: account, Logger: logger,
		BreakerFailures: cfg.Channel.BreakerFailures, BreakerOpen: cfg.Channel.BreakerOpen,
		RetryAttempts: cfg.Channel.RetryAttempts, RetryBase: cfg.Channel.RetryBase, RetryMax: cfg.Channel.RetryMax,
	})
	var ch gateway.Channel = rc
	if m, ok := obs.(*metrics); ok {
		m.watchBreaker(inner.Name(), account, rc.State)
		ch = gateway.ObserveChannel(rc, m)
	}
	return timedChannel{Channel: ch, timeout: timeout}
}

// idempotencyLeaseMargin is what an Idempotency-Key's lease adds to the
// longest barcode decision: the database writes around it and a slow node.
const idempotencyLeaseMargin = 30 * time.Second

// idempotencyLease is how long a request owns its Idempotency-Key: longer
// than the slowest create can take (a barcode payment: its polling
// (barcode.poll_timeout), then every cancel attempt, each bounded by
// alipay.call_timeout; 178 s with the defaults), so that a client's repeat
// gets 409 in flight instead of taking over a payment still being decided.
// Never below httpapi's default.
func idempotencyLease(svc *gateway.Service) time.Duration {
	return max(svc.BarcodeWindow()+idempotencyLeaseMargin, httpapi.DefaultIdempotencyLease)
}

// channelIdleConns is how many idle connections to Alipay a node keeps.
const channelIdleConns = 64

// newChannel builds the Alipay client from the config's key files.
func newChannel(cfg config) (*alipay.Client, error) {
	// Every order is a call to Alipay, many at once: keep that many
	// connections alive. http.DefaultTransport keeps 2 idle per host, so a
	// busy node would open (and TLS-handshake) a new connection for most calls.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = channelIdleConns
	ac := alipay.Config{
		AppID: cfg.Alipay.AppID, GatewayURL: cfg.Alipay.GatewayURL, Timeout: cfg.Alipay.CallTimeout,
		HTTPClient: &http.Client{Transport: alipay.TracedTransport(transport, cfg.tracer, telemetry.Propagator())},
	}
	files := alipay.Files{
		PrivateKeyFile: cfg.Alipay.PrivateKeyFile, AlipayPublicKeyFile: cfg.Alipay.AlipayPublicKeyFile,
		AppCertFile: cfg.Alipay.AppCertFile, AlipayCertFile: cfg.Alipay.AlipayCertFile,
		AlipayRootCertFile: cfg.Alipay.AlipayRootCertFile,
	}
	if err := files.Load(&ac); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return alipay.New(ac)
}

// redisPingTimeout bounds the ping that checks Redis at start.
const redisPingTimeout = 5 * time.Second

// newNonces is Redis when configured (replicas share it), else memory. Redis
// must answer a ping at start, and its ping is returned for readiness (nil
// for memory). PostgreSQL without Redis is refused unless the operator
// declares a single node (server.single_node): replicas keeping nonces each
// in their own memory would accept a request replayed to another replica.
func newNonces(ctx context.Context, cfg config, logger *slog.Logger, a *app) (paygate.NonceCache, func(context.Context) error, error) {
	if cfg.Redis.URL == "" {
		if !strings.HasPrefix(cfg.Database.URL, "sqlite:") && !cfg.Server.SingleNode {
			return nil, nil, errors.New("config: with PostgreSQL, set redis.url so that replicas share the nonce cache " +
				"(else a request replayed to another replica is accepted), or server.single_node: true if this is the only node")
		}
		return httpapi.NewMemoryNonces(time.Now), nil, nil
	}
	// go-redis logs through one process-wide logger (raw lines on stderr
	// by default): route it into this node's JSON log.
	goredis.SetLogger(redisLog{logger.With("component", "redis")})
	rc, err := redis.Open(cfg.Redis.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("config: redis.url: %w", err)
	}
	a.closers = append(a.closers, rc.Close)
	a.redis = rc
	pctx, cancel := context.WithTimeout(ctx, redisPingTimeout)
	defer cancel()
	if err := rc.Ping(pctx).Err(); err != nil {
		// The error names the address, never the URL's password.
		return nil, nil, fmt.Errorf("redis: no answer at start: %w", err)
	}
	logger.Info("nonce cache in redis")
	ping := func(ctx context.Context) error { return rc.Ping(ctx).Err() }
	return redis.NewNonceCache(rc, "paygate:nonce:"), ping, nil
}

// redisLog is go-redis's logger interface on slog: its lines are warnings
// (failed connections, dropped notifications, truncated durations).
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(format, v...))
}

// readyChecks are the node's readiness checks: the database, and Redis
// when used (noncesPing not nil). /readyz and the console's health page
// both run them.
func readyChecks(st paygate.Store, noncesPing func(context.Context) error) []console.HealthCheck {
	checks := []console.HealthCheck{{Name: "database", Check: st.Ping}}
	if noncesPing != nil {
		checks = append(checks, console.HealthCheck{Name: "redis", Check: noncesPing})
	}
	return checks
}

// readiness fails when a check's store does not answer within a second,
// saying which ("database unreachable").
func readiness(checks []console.HealthCheck) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		for _, c := range checks {
			if err := c.Check(ctx); err != nil {
				return errors.New(c.Name + " unreachable")
			}
		}
		return nil
	}
}

// serve runs the HTTP server on ln until ctx ends, then drains: readiness
// turns false and new API calls get 503 for DrainDelay, so a load balancer
// stops sending; then in-flight requests get ShutdownTimeout to finish.
//
// The server has the limits of server.*: read, write and idle timeouts, a
// header size, and at most max_connections open at once.
func (a *app) serve(ctx context.Context, ln net.Listener) error {
	srv := newHTTPServer(a.api.Handler(), a.limits)
	ln = limitListener(ln, a.limits.MaxConnections)
	// Background work runs on every node; River makes sure each job runs
	// once across replicas.
	if err := a.queue.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("draining", "drain_delay", a.cfg.Server.DrainDelay.String())
	a.api.Drain()
	// The cashier's event streams last as long as a buyer looks: end them
	// now (the pages reconnect elsewhere), or Shutdown would wait for them.
	a.cashier.Drain()
	time.Sleep(a.cfg.Server.DrainDelay)
	shutCtx, cancel := context.WithTimeout(context.Background(), a.cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		a.log.Warn("shutdown cut in-flight requests", "err", err)
		srv.Close()
	}
	// Running jobs get what is left of the shutdown time; the rest are
	// handed back to River and run again here or on another replica.
	if err := a.queue.Stop(shutCtx); err != nil {
		a.log.Warn("stopping jobs", "err", err)
	}
	// Last: the requests and jobs above report activities until they end.
	if err := a.activity.Close(shutCtx); err != nil {
		a.log.Warn("order activities still queued were not all written", "err", err)
	}
	a.log.Info("stopped")
	return nil
}

// close releases everything newApp opened, last first.
func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			a.log.Warn("close", "err", err)
		}
	}
	a.closers = nil
}
