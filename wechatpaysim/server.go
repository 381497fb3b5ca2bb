// Package wechatpaysim is a faithful local WeChat Pay APIv3 for a direct
// merchant: the counterparty of paygate's WeChat Pay channel in tests and in
// `paygate demo`. It follows docs/wechatpay-protocol.md (cited as §).
//
// It verifies every request's Authorization (WECHATPAY2-SHA256-RSA2048)
// against the registered merchant's key, signs every answer (errors too,
// but not the bill download, §3.1) with the simulator's WeChat Pay key in
// certificate-serial or PUB_KEY_ID mode, keeps a trade book with WeChat
// Pay's states and idempotency rules (§4, §5, §8), sends encrypted, signed
// notifications on WeChat Pay's retry schedule (§6), serves trade bills
// (§7) and injects faults (Faults). Buyers act through Pay, the
// payment-code prefixes (10… pay at once, 11… pay after Config.PayDelay,
// 12… are never paid, 13… lack balance) and the /sim/wechat routes. With
// Config.DataDir everything survives a restart.
//
// Choices where the fact sheet is UNCONFIRMED or silent (§12):
//   - a prepay repeated with other parameters is 400 INVALID_REQUEST; on a
//     paid order 400 ORDERPAID, on a closed or revoked one 400 ORDER_CLOSED;
//     a code_url older than 2 h is replaced by a new one on a repeat;
//   - close answers 204 for an unpaid, closed or unknown order and 400
//     ORDERPAID for a paid one; an unknown out_trade_no stays unknown;
//   - codepay: USERPAYING is a 200 with only trade_state; an invalid code is
//     400 PARAM_ERROR, a used one 400 INVALID_REQUEST, a 13… code 403
//     NOT_ENOUGH with the order kept as PAYERROR; a 12… code turns PAYERROR
//     after Config.PasswordTimeout; a repeat with the same code and amount
//     answers the order's state;
//   - reverse: unpaid → REVOKED, paid → refunded in full (a refund whose
//     out_refund_no is the out_trade_no, no notification) and REVOKED; a
//     repeat succeeds again; 7 days after the order 400 INVALID_REQUEST;
//   - refund: PROCESSING, then SUCCESS after Config.RefundDelay with a
//     REFUND.SUCCESS notification to its notify_url (or the order's); the
//     order turns REFUND at the first refund; a repeat with the same
//     out_refund_no and amount answers the refund, another amount 400
//     INVALID_REQUEST;
//   - notifications: associated_data is the original_type (transaction,
//     refund); the first delivery is immediate, then the 15 gaps of §6.5
//     counted from each attempt; 200 or 204 within 5 s is success;
//   - bills: a day's bill exists from 10:00 Beijing time the next day
//     (STATEMENT_CREATING before, NO_STATEMENT_EXIST when empty); a payment
//     row per order paid that day (state SUCCESS) and a refund row per
//     refund that succeeded that day, reverse refunds included; fees 0.6 %.
package wechatpaysim

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/paygate/paygate/simfault"
	"github.com/paygate/paygate/simjournal"
	"github.com/paygate/paygate/wechatpay"
)

// Config sets up a Server. WechatPayKey and WechatPayID are required.
type Config struct {
	// WechatPayKey is the simulator's WeChat Pay key: it signs answers and
	// notifications; merchants verify with its public key.
	WechatPayKey *rsa.PrivateKey
	// WechatPayID names that key in Wechatpay-Serial: a platform
	// certificate serial (40 upper-case hex) or a public-key ID
	// (PUB_KEY_ID_ + digits), as the merchant is configured (§3.3).
	WechatPayID string
	// Merchants are registered at start; RegisterMerchant adds more later.
	Merchants []Merchant
	// DataDir keeps trades and pending notifications across restarts (not
	// merchants: see RegisterMerchant); "" keeps them in memory only.
	DataDir string
	// Faults is the fault injection at start; SetFaults changes it.
	Faults Faults
	// Now is the clock of everything dated. Default time.Now.
	Now func() time.Time
	// HTTPClient sends notifications. Default: a plain client.
	HTTPClient *http.Client
	// Logger receives the simulator's logs. Default: discarded.
	Logger *slog.Logger
	// PublicURL is the base of the bill download_url, like
	// http://127.0.0.1:9090. Default: http:// plus the request's Host.
	PublicURL string
	// PayDelay is how long an 11… payment-code buyer takes to enter the
	// password. Default 3 s.
	PayDelay time.Duration
	// PasswordTimeout is when a 12… payment code, never confirmed, turns
	// PAYERROR. Default 30 s (§8.5).
	PasswordTimeout time.Duration
	// RefundDelay is how long a refund stays PROCESSING. Default 1 s.
	RefundDelay time.Duration
	// Seed seeds the fault dice; 0 picks a random seed.
	Seed int64
	// SweepInterval is how often scheduled changes are applied in the
	// background and the longest the notifier sleeps. Default 1 s.
	SweepInterval time.Duration
}

// Merchant is a direct merchant (普通商户) registered with the simulator.
type Merchant struct {
	MchID string // 商户号
	AppID string // the AppID bound to MchID
	// SerialNo names the merchant API certificate whose PublicKey verifies
	// the merchant's requests (Authorization serial_no).
	SerialNo  string
	PublicKey *rsa.PublicKey
	// APIv3Key encrypts the merchant's notifications.
	APIv3Key wechatpay.APIv3Key
}

// Server is the simulated WeChat Pay: an http.Handler serving the /v3/ API
// and the /sim/wechat/ routes. It is safe for concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	signer   wechatpay.Signer
	journal  *simjournal.Journal
	dice     *simfault.Dice
	notifier *notifier
	ctx      context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup
	once     sync.Once

	mmu       sync.RWMutex
	merchants map[string]Merchant

	fmu    sync.RWMutex
	faults Faults

	mu    sync.Mutex // guards book and bills
	book  *book
	bills map[string]*billFile
}

// New checks cfg, loads DataDir if set, and starts the background sweeper
// and notifier. Call Close to stop them.
func New(cfg Config) (*Server, error) {
	if cfg.WechatPayKey == nil || cfg.WechatPayID == "" {
		return nil, errors.New("wechatpaysim: WechatPayKey and WechatPayID are required")
	}
	if err := cfg.Faults.Validate(); err != nil {
		return nil, fmt.Errorf("wechatpaysim: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&cfg.PayDelay, 3 * time.Second}, {&cfg.PasswordTimeout, 30 * time.Second},
		{&cfg.RefundDelay, time.Second}, {&cfg.SweepInterval, time.Second}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	s := &Server{
		cfg: cfg, log: cfg.Logger, signer: wechatpay.Signer{ID: cfg.WechatPayID, Key: cfg.WechatPayKey},
		dice: simfault.NewDice(cfg.Seed), merchants: map[string]Merchant{}, faults: cfg.Faults,
		book: newBook(), bills: map[string]*billFile{},
	}
	s.notifier = newNotifier(s)
	if cfg.DataDir != "" {
		j, snap, err := simjournal.Open(cfg.DataDir, journalName)
		if err != nil {
			return nil, err
		}
		s.journal = j
		if err := s.load(snap); err != nil {
			_ = j.Close()
			return nil, err
		}
	}
	for _, m := range cfg.Merchants {
		if err := s.RegisterMerchant(m); err != nil {
			_ = s.journal.Close()
			return nil, err
		}
	}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.wg.Add(2)
	go s.sweepLoop()
	go s.notifier.run(s.ctx, &s.wg)
	return s, nil
}

// Close stops the sweeper and the notifier (deliveries in flight stay
// pending) and closes the journal. It is safe to call twice.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		s.stop()
		s.wg.Wait()
		s.mu.Lock()
		defer s.mu.Unlock()
		err = s.journal.Close()
	})
	return err
}

func (s *Server) now() time.Time { return s.cfg.Now() }

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

// WechatPayPublicKey is the key merchants verify answers and notifications
// with, named by Config.WechatPayID.
func (s *Server) WechatPayPublicKey() wechatpay.PublicKey { return s.signer.PublicKey() }

// RegisterMerchant adds or replaces a merchant. Merchants live in memory
// only (their APIv3 key is a secret): register them at every start.
func (s *Server) RegisterMerchant(m Merchant) error {
	switch {
	case m.MchID == "" || len(m.MchID) > 32 || m.AppID == "" || len(m.AppID) > 32:
		return errors.New("wechatpaysim: merchant mchid and appid must be 1 to 32 characters")
	case m.SerialNo == "" || m.PublicKey == nil:
		return fmt.Errorf("wechatpaysim: merchant %s: the API certificate serial and public key are required", m.MchID)
	case m.APIv3Key.IsZero():
		return fmt.Errorf("wechatpaysim: merchant %s: the APIv3 key is required", m.MchID)
	}
	s.mmu.Lock()
	defer s.mmu.Unlock()
	s.merchants[m.MchID] = m
	return nil
}

func (s *Server) merchant(mchID string) (Merchant, bool) {
	s.mmu.RLock()
	defer s.mmu.RUnlock()
	m, ok := s.merchants[mchID]
	return m, ok
}

// SetFaults replaces the whole fault set after validating it.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.fmu.Lock()
	s.faults = f
	s.fmu.Unlock()
	s.notifier.poke()
	return nil
}

// Faults returns the fault set in force.
func (s *Server) Faults() Faults {
	s.fmu.RLock()
	defer s.fmu.RUnlock()
	return s.faults
}

// IsCodeURL reports whether s is a WeChat Pay Native code_url, the form
// this simulator hands out (and WeChat Pay does, §4.1).
func IsCodeURL(s string) bool { return strings.HasPrefix(s, codeURLPrefix) }

// ServeHTTP routes /v3/… (the API) and /sim/wechat/…; anything else is 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/v3/"):
		s.serveAPI(w, r)
	case strings.HasPrefix(r.URL.Path, simPrefix):
		s.serveSim(w, r)
	default:
		writeSimError(w, http.StatusNotFound, "no such route: "+r.URL.Path)
	}
}
