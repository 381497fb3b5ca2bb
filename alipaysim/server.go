// Package alipaysim is a faithful local Alipay OpenAPI gateway (gateway.do,
// RSA2) for face-to-face payment (当面付): the counterparty that paygate's
// end-to-end and chaos tests run against, and the embedded channel of
// `paygate demo`.
//
// It checks requests in Alipay's order (§8.1 of shared/docs/alipay-protocol.md),
// signs every response over its exact node bytes (§8.2), keeps a trade book
// with Alipay's state and idempotency rules (§3, §4, §8.3), sends signed
// notifications on Alipay's retry schedule (§5), serves daily bills (§3.8),
// and injects faults on request (Faults). Buyers act through the /sim routes
// or PayQR and ScanQR; barcode outcomes follow the auth_code prefix
// (contract.md). With Config.DataDir everything survives a restart.
//
// Choices where the protocol is UNCONFIRMED (§9) or silent:
//   - timestamp skew: Config.TimestampSkew, default 15 min; version other
//     than 1.0 is 40002 isv.invalid-parameter; a parameter sent twice with
//     different values is an unsigned 40002 isv.invalid-parameter;
//   - error_response only for a missing or unknown method and for requests
//     that cannot be read at all; every other error sits under the method's
//     node, signed once the app is known;
//   - amounts: ^\d{1,9}(\.\d{1,2})?$ in [0.01, 100000000] (numbers in
//     biz_content are read as their text), else 40004 ACQ.INVALID_PARAMETER;
//     out_request_no must be printable ASCII without spaces, commas or quotes;
//   - precreate before a scan: the same parameters give the same code while
//     it is valid; changed parameters or an expired code give a new code and
//     the old one stops working; an out_trade_no precreated cannot be used by
//     pay (ACQ.CONTEXT_INCONSISTENT); the code's qr_code_timeout_express
//     (default 2 h) also bounds the scanned trade's timeout_express (3 h);
//   - close of a code nobody scanned answers ACQ.TRADE_NOT_EXIST but voids
//     the code, and the out_trade_no then answers ACQ.TRADE_HAS_CLOSE to
//     precreate and pay, as after a cancel of an unknown out_trade_no;
//   - cancel of an unknown trade: 10000 without action (a trade_no that names
//     nothing is only answered); repeats give the same action; a trade closed
//     otherwise answers action close (never paid) or refund (refunded in
//     full); a partly refunded trade has the rest refunded; the refund is
//     recorded under out_request_no = out_trade_no; window
//     Config.CancelWindow (24 h);
//   - refund: a repeat with the same out_request_no and amount answers
//     fund_change N whatever the trade's status; a closed trade refuses new
//     refunds with ACQ.TRADE_STATUS_ERROR; refund period Config.RefundPeriod
//     (90 days), then TRADE_FINISHED;
//   - notifications: refunds notify unless Config.DisableRefundNotify;
//     barcode payments notify like QR ones; the first delivery is
//     immediate, then 4m,10m,10m,1h,2h,6h,15h counted from each attempt
//     (no "3 immediate retries"); fund_bill_list is plain JSON; refund_fee
//     is on every notification after a refund;
//   - responses escape "/" as "\/" and are signed over those bytes;
//   - bills: a day without trades gives an empty bill with bill_file_code
//     EMPTY_DATA_WITH_BILL_FILE; monthly dates and signcustomer bills answer
//     isp.bill_not_exist; bad arguments answer 40004 invalid_arguments;
//   - out_trade_no is unique per app (each app is its own merchant); a buyer
//     id is 16 digits starting 2088; a code scanned by one buyer cannot be
//     paid by another.
package alipaysim

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/simfault"
	"github.com/paygate/paygate/simjournal"
)

// Config sets up a Server. Only AlipayKey is required.
type Config struct {
	// AlipayKey is the simulator's own Alipay key pair: it signs responses
	// and notifications; clients verify with its public key.
	AlipayKey *rsa.PrivateKey
	// AlipayCertSN, when set, is sent as alipay_cert_sn (between the node and
	// sign) with every signed response, as in certificate mode.
	AlipayCertSN string
	// Apps are registered at start; RegisterApp adds more later.
	Apps []App
	// DataDir keeps trades, codes, refunds, cancelled out_trade_nos, pending
	// notifications and registered apps across restarts; "" keeps them in
	// memory only.
	DataDir string
	// Faults is the fault injection at start; SetFaults changes it.
	Faults Faults
	// Now is the clock for everything the protocol dates: timestamps,
	// expiries, refund periods, bills, notification schedules. Default time.Now.
	Now func() time.Time
	// HTTPClient sends notifications. Default: a plain client; each
	// delivery is bounded to 15 s.
	HTTPClient *http.Client
	// Logger receives the simulator's logs. Default: discarded.
	Logger *slog.Logger
	// PublicURL is the base of links the simulator hands out (bill
	// downloads), like http://127.0.0.1:9090. Default: http:// plus the
	// request's Host.
	PublicURL string
	// PayDelay is how long a 29… barcode buyer takes to confirm. Default 3 s.
	PayDelay time.Duration
	// TimestampSkew is how far a request's timestamp may be from Now.
	// Default 15 min.
	TimestampSkew time.Duration
	// CancelWindow is how long after payment cancel may refund. Default 24 h.
	CancelWindow time.Duration
	// RefundPeriod is how long a paid trade stays refundable before it
	// becomes TRADE_FINISHED. Default 90 days.
	RefundPeriod time.Duration
	// DisableRefundNotify turns off notifications for refunds (§5.5 reports
	// conflict on whether Alipay sends them); they are on by default.
	DisableRefundNotify bool
	// Seed seeds the fault dice; 0 picks a random seed.
	Seed int64
	// SweepInterval is how often expiries, delayed payments and the refund
	// period are applied in the background, and the longest the notifier
	// sleeps. Default 1 s. Calls that touch a trade apply them at once anyway.
	SweepInterval time.Duration
	// NotifyWorkers bounds concurrent notification deliveries. Default 8.
	NotifyWorkers int
	// Wallets are other simulated wallets served on the same address, whose
	// codes the phone page (GET /sim/) also lists, pays and shows (see
	// Wallet). None by default.
	Wallets []Wallet
	// ManualNotify starts no background goroutines: no notifier and no
	// sweeper. Time is applied whenever a call, Trades or DeliverDue looks,
	// and notifications wait until DeliverDue sends them, one at a time in
	// the caller's goroutine. For deterministic simulation tests.
	ManualNotify bool
}

// App is a merchant application the gateway accepts requests from.
type App struct {
	AppID string
	// PublicKey verifies the app's request signatures (the uploaded app
	// public key, or the key of its app certificate).
	PublicKey *rsa.PublicKey
	// AppCertSN and RootCertSN make a certificate-mode app: its requests
	// must carry app_cert_sn equal to AppCertSN and an alipay_root_cert_sn
	// naming one of RootCertSN's "_"-joined SNs.
	AppCertSN, RootCertSN string
	// SellerID is the merchant's 2088… id; default derived from AppID, stable.
	SellerID string
}

// Server is the simulated Alipay gateway: an http.Handler serving
// POST|GET /gateway.do and the /sim routes. It is safe for concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    *simjournal.Journal
	notifier *notifier
	dice     *simfault.Dice
	ctx      context.Context // ends at Close
	stop     context.CancelFunc
	wg       sync.WaitGroup
	once     sync.Once

	appsMu sync.RWMutex
	apps   map[string]App

	faultsMu sync.RWMutex
	faults   Faults

	mu    sync.Mutex // guards book and bills
	book  *book
	bills map[string]billFile

	ownClient bool                // HTTPClient was made here, so Close may tidy it
	panicHook func(method string) // tests only: runs before a business method
}

// New checks cfg, loads DataDir if set, and starts the background sweeper
// and notifier. Call Close to stop them.
func New(cfg Config) (*Server, error) {
	if cfg.AlipayKey == nil {
		return nil, errors.New("alipaysim: AlipayKey is required")
	}
	if err := cfg.Faults.Validate(); err != nil {
		return nil, fmt.Errorf("alipaysim: %w", err)
	}
	ownClient := cfg.HTTPClient == nil
	if ownClient {
		cfg.HTTPClient = &http.Client{}
	}
	setDefaults(&cfg)
	s := &Server{
		ownClient: ownClient,
		cfg:       cfg,
		log:       cfg.Logger,
		dice:      simfault.NewDice(cfg.Seed),
		apps:      map[string]App{},
		faults:    cloneFaults(cfg.Faults),
		book:      newBook(),
		bills:     map[string]billFile{},
	}
	s.notifier = &notifier{
		key: cfg.AlipayKey, now: cfg.Now, client: cfg.HTTPClient, log: cfg.Logger, dice: s.dice,
		faults: s.Faults, workers: cfg.NotifyWorkers, poll: cfg.SweepInterval,
		pending: map[string]*notification{}, inflight: map[string]bool{}, wake: make(chan struct{}, 1),
	}
	if cfg.DataDir != "" {
		st, snap, err := simjournal.Open(cfg.DataDir, journalName)
		if err != nil {
			return nil, err
		}
		s.store, s.notifier.store = st, st
		if err := s.load(snap); err != nil {
			_ = st.Close()
			return nil, err
		}
	}
	for _, app := range cfg.Apps {
		if err := s.RegisterApp(app); err != nil {
			_ = s.store.Close()
			return nil, err
		}
	}
	s.ctx, s.stop = context.WithCancel(context.Background())
	if cfg.ManualNotify {
		return s, nil
	}
	s.wg.Add(2)
	go s.sweepLoop()
	go s.notifier.run(s.ctx, &s.wg)
	return s, nil
}

func setDefaults(cfg *Config) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}

	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	defaults := []struct {
		v *time.Duration
		d time.Duration
	}{
		{&cfg.PayDelay, 3 * time.Second}, {&cfg.TimestampSkew, 15 * time.Minute},
		{&cfg.CancelWindow, 24 * time.Hour}, {&cfg.RefundPeriod, 90 * 24 * time.Hour},
		{&cfg.SweepInterval, time.Second},
	}
	for _, d := range defaults {
		if *d.v <= 0 {
			*d.v = d.d
		}
	}
	if cfg.NotifyWorkers <= 0 {
		cfg.NotifyWorkers = defaultNotifyers
	}
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// Close stops the sweeper and the notifier (deliveries in flight are cut
// short and stay pending) and closes the journal. It is safe to call twice.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		s.stop()
		s.wg.Wait()
		if s.ownClient {
			s.cfg.HTTPClient.CloseIdleConnections()
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		err = s.store.Close()
	})
	return err
}

// sweepLoop applies expiries in the background every SweepInterval.
func (s *Server) sweepLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.SweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
			s.mu.Lock()
			s.sweep(s.now())
			s.mu.Unlock()
		}
	}
}

// AlipayPublicKeyBase64 is the simulator's public key as Alipay's console
// shows it: one line of bare base64 (PKIX).
func (s *Server) AlipayPublicKeyBase64() string {
	return alipay.PublicKeyBase64(&s.cfg.AlipayKey.PublicKey)
}

// RegisterApp adds or replaces an app; it is persisted with DataDir.
func (s *Server) RegisterApp(app App) error {
	if app.AppID == "" || len(app.AppID) > 32 {
		return errors.New("alipaysim: app id must be 1 to 32 characters")
	}
	if app.PublicKey == nil {
		return fmt.Errorf("alipaysim: app %s: public key is required", app.AppID)
	}
	if (app.AppCertSN == "") != (app.RootCertSN == "") {
		return fmt.Errorf("alipaysim: app %s: certificate mode needs both AppCertSN and RootCertSN", app.AppID)
	}
	if app.SellerID == "" {
		app.SellerID = sellerIDFor(app.AppID)
	}
	s.appsMu.Lock()
	defer s.appsMu.Unlock()
	if err := s.store.Append(simjournal.Put(kindApp, app.AppID, appRecordOf(app))); err != nil {
		return err
	}
	s.apps[app.AppID] = app
	return nil
}

func (s *Server) app(id string) (App, bool) {
	s.appsMu.RLock()
	defer s.appsMu.RUnlock()
	a, ok := s.apps[id]
	return a, ok
}

// SetFaults replaces the whole fault set after validating it.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.faultsMu.Lock()
	s.faults = cloneFaults(f)
	s.faultsMu.Unlock()
	s.notifier.poke()
	return nil
}

// Faults returns the fault set in force.
func (s *Server) Faults() Faults {
	s.faultsMu.RLock()
	defer s.faultsMu.RUnlock()
	return cloneFaults(s.faults)
}

func cloneFaults(f Faults) Faults {
	f.Methods = slices.Clone(f.Methods)
	return f
}

// Notifications returns every notification attempt so far, oldest first,
// including notifications the drop fault suppressed (Dropped set).
func (s *Server) Notifications() []NotifyAttempt { return s.notifier.history() }

// ServeHTTP routes /gateway.do and /sim/…; anything else is 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/gateway.do":
		s.serveGateway(w, r)
	case strings.HasPrefix(r.URL.Path, "/sim/"):
		s.serveSim(w, r)
	default:
		writeJSONError(w, http.StatusNotFound, "no such route: "+r.URL.Path)
	}
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeJSONError answers {"error": msg}.
func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
