package alipaysim

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/simjournal"
)

// journalName names the simulator's files under Config.DataDir:
// alipaysim.journal and alipaysim.lock.
const journalName = "alipaysim"

// Record kinds of the journal.
const (
	kindTrade  = "trade"
	kindCancel = "cancel" // an out_trade_no cancelled before a trade existed
	kindNotify = "notify" // a notification still to deliver
	kindApp    = "app"
)

// appRecord is an App as the journal keeps it.
type appRecord struct {
	AppID      string `json:"app_id"`
	PublicKey  string `json:"public_key"` // bare base64 PKIX
	AppCertSN  string `json:"app_cert_sn,omitempty"`
	RootCertSN string `json:"root_cert_sn,omitempty"`
	SellerID   string `json:"seller_id"`
}

func appRecordOf(a App) appRecord {
	return appRecord{
		AppID: a.AppID, PublicKey: alipay.PublicKeyBase64(a.PublicKey),
		AppCertSN: a.AppCertSN, RootCertSN: a.RootCertSN, SellerID: a.SellerID,
	}
}

// ErrInUse is New's error when Config.DataDir is in use by another simulator.
var ErrInUse = simjournal.ErrInUse

// load restores the state a journal holds. Config.Apps are registered after
// it, so they override stored apps of the same id.
func (s *Server) load(snap simjournal.Snapshot) error {
	for id, raw := range snap[kindApp] {
		var ar appRecord
		if err := json.Unmarshal(raw, &ar); err != nil {
			return fmt.Errorf("alipaysim: journal app %s: %w", id, err)
		}
		pub, err := alipay.ParsePublicKey([]byte(ar.PublicKey))
		if err != nil {
			return fmt.Errorf("alipaysim: journal app %s: %w", id, err)
		}
		s.apps[ar.AppID] = App{AppID: ar.AppID, PublicKey: pub, AppCertSN: ar.AppCertSN, RootCertSN: ar.RootCertSN, SellerID: ar.SellerID}
	}
	for key, raw := range snap[kindTrade] {
		t := &trade{}
		if err := json.Unmarshal(raw, t); err != nil {
			return fmt.Errorf("alipaysim: journal trade %q: %w", key, err)
		}
		s.book.index(t)
	}
	for key, raw := range snap[kindCancel] {
		var at time.Time
		if err := json.Unmarshal(raw, &at); err != nil {
			return fmt.Errorf("alipaysim: journal cancel %q: %w", key, err)
		}
		s.book.cancelled[key] = at
	}
	for id, raw := range snap[kindNotify] {
		n := &notification{}
		if err := json.Unmarshal(raw, n); err != nil {
			return fmt.Errorf("alipaysim: journal notification %s: %w", id, err)
		}
		s.notifier.pending[n.ID] = n
	}
	return nil
}
