package alipaysim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/paygate/paygate/alipay"
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

// lockFile sits beside the journal; the simulator holds an exclusive lock
// on it while it runs.
const lockFile = "alipaysim.lock"

var errLocked = errors.New("locked")

// ErrInUse is New's error when Config.DataDir is in use by another simulator.
var ErrInUse = errors.New("data directory in use by another simulator")

// lockJournal locks dir's journal for this simulator: a second one on the
// same directory would interleave its records with the first one's and each
// would hold a different truth. The lock is released when the returned file
// is closed, or when the process ends, however it ends.
func lockJournal(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("alipaysim: journal lock: %w", err)
	}
	if err := tryLock(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("alipaysim: %w: %s (%s is locked); two simulators must not share one journal", ErrInUse, dir, path)
		}
		return nil, fmt.Errorf("alipaysim: journal lock %s: %w", path, err)
	}
	return f, nil
}

// load restores the state a journal holds. Config.Apps are registered after
// it, so they override stored apps of the same id.
func (s *Server) load(snap snapshot) error {
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
