package wechatpaysim

import (
	"encoding/json"
	"fmt"

	"github.com/paygate/paygate/simjournal"
)

// journalName names the simulator's files under Config.DataDir:
// wechatpaysim.journal and wechatpaysim.lock.
const journalName = "wechatpaysim"

// Record kinds of the journal.
const (
	kindTrade  = "trade"
	kindNotify = "notify" // a notification still to deliver
)

// ErrInUse is New's error when Config.DataDir is in use by another simulator.
var ErrInUse = simjournal.ErrInUse

// load restores the trades and pending notifications a journal holds.
// Merchants are not journaled: their APIv3 key is a secret the simulator
// does not write down, so Config.Merchants registers them at every start
// (notifications already built were encrypted before they were journaled).
func (s *Server) load(snap simjournal.Snapshot) error {
	for key, raw := range snap[kindTrade] {
		t := &trade{}
		if err := json.Unmarshal(raw, t); err != nil {
			return fmt.Errorf("wechatpaysim: journal trade %q: %w", key, err)
		}
		s.book.index(t)
	}
	for id, raw := range snap[kindNotify] {
		n := &notification{}
		if err := json.Unmarshal(raw, n); err != nil {
			return fmt.Errorf("wechatpaysim: journal notification %s: %w", id, err)
		}
		s.notifier.pending[n.ID] = n
	}
	return nil
}
