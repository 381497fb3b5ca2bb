package alipaysim

import (
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/simjournal"
)

// Trade kinds: how the out_trade_no was first used.
const (
	kindPrecreate = "precreate"
	kindPay       = "pay"
)

// Why a trade closed.
const (
	closedTimeout = "timeout"
	closedByClose = "close"
	closedCancel  = "cancel"
	closedRefund  = "refund" // refunds reached the paid amount
)

// Defaults of §3 for relative expiries.
const (
	defaultCodeTimeout  = 2 * time.Hour // a precreate code
	defaultTradeTimeout = 3 * time.Hour // a trade, from its creation
)

// trade is one out_trade_no of one app: a precreated code nobody scanned yet
// (Status ""), or a trade that exists at Alipay (§4). It is persisted as JSON.
type trade struct {
	AppID       string        `json:"app_id"`
	SellerID    string        `json:"seller_id"`
	OutTradeNo  string        `json:"out_trade_no"`
	Kind        string        `json:"kind"`
	Fingerprint string        `json:"fingerprint"` // the parameters that must not change
	TradeNo     string        `json:"trade_no,omitempty"`
	Status      string        `json:"status,omitempty"`
	Total       paygate.Money `json:"total"`
	Subject     string        `json:"subject"`
	Body        string        `json:"body,omitempty"`
	NotifyURL   string        `json:"notify_url,omitempty"`
	AuthCode    string        `json:"auth_code,omitempty"`
	// TimeoutExpress is kept raw: a precreated trade's timeout starts at the scan.
	TimeoutExpress string    `json:"timeout_express,omitempty"`
	QRCode         string    `json:"qr_code,omitempty"`
	CodeAt         time.Time `json:"code_at,omitzero"`
	CodeExpires    time.Time `json:"code_expires,omitzero"`
	// Voided is set when close or cancel hit a code nobody scanned: no trade
	// exists, yet the code can no longer be paid.
	Voided       string    `json:"voided,omitempty"`
	Created      time.Time `json:"created,omitzero"`
	Expires      time.Time `json:"expires,omitzero"`
	PayAt        time.Time `json:"pay_at,omitzero"` // a 29… barcode confirms then
	Paid         time.Time `json:"paid,omitzero"`
	Closed       time.Time `json:"closed,omitzero"`
	Finished     time.Time `json:"finished,omitzero"`
	CloseReason  string    `json:"close_reason,omitempty"`
	CancelAction string    `json:"cancel_action,omitempty"`
	BuyerID      string    `json:"buyer_id,omitempty"`
	BuyerLogonID string    `json:"buyer_logon_id,omitempty"`
	Refunds      []refund  `json:"refunds,omitempty"`
}

// refund is one refund of a trade, identified by its out_request_no.
type refund struct {
	OutRequestNo string        `json:"out_request_no"`
	Amount       paygate.Money `json:"amount"`
	Reason       string        `json:"reason,omitempty"`
	At           time.Time     `json:"at"`
	ByCancel     bool          `json:"by_cancel,omitempty"`
}

func tradeKey(appID, outTradeNo string) string { return appID + "\n" + outTradeNo }

func (t *trade) key() string { return tradeKey(t.AppID, t.OutTradeNo) }

// exists reports whether Alipay would know the trade (it was scanned or paid).
func (t *trade) exists() bool { return t.Status != "" }

// wasPaid reports whether the buyer's money moved, refunded or not.
func (t *trade) wasPaid() bool { return !t.Paid.IsZero() }

// refundFee is the cumulative refunded amount.
func (t *trade) refundFee() paygate.Money {
	var sum paygate.Money
	for _, r := range t.Refunds {
		sum += r.Amount
	}
	return sum
}

// findRefund returns the refund with outRequestNo, or nil.
func (t *trade) findRefund(outRequestNo string) *refund {
	for i := range t.Refunds {
		if t.Refunds[i].OutRequestNo == outRequestNo {
			return &t.Refunds[i]
		}
	}
	return nil
}

// active reports whether time can still change the trade.
func (t *trade) active() bool {
	return t.Status == alipay.TradeWaitBuyerPay || t.Status == alipay.TradeSuccess
}

// book holds every trade with its indexes. The Server's mutex guards it.
type book struct {
	trades    map[string]*trade    // by tradeKey
	byTradeNo map[string]*trade    // trades that exist
	byCode    map[string]*trade    // current precreate codes
	cancelled map[string]time.Time // out_trade_nos cancelled before any trade existed
	active    map[*trade]struct{}  // trades time can change
}

func newBook() *book {
	return &book{
		trades:    map[string]*trade{},
		byTradeNo: map[string]*trade{},
		byCode:    map[string]*trade{},
		cancelled: map[string]time.Time{},
		active:    map[*trade]struct{}{},
	}
}

// index (re)files t under all its keys.
func (b *book) index(t *trade) {
	b.trades[t.key()] = t
	if t.TradeNo != "" {
		b.byTradeNo[t.TradeNo] = t
	}
	if t.QRCode != "" {
		b.byCode[t.QRCode] = t
	}
	if t.active() {
		b.active[t] = struct{}{}
	} else {
		delete(b.active, t)
	}
}

// find looks a trade up as Alipay does: by trade_no when given (it wins),
// else by out_trade_no; only the app's own trades are visible.
func (b *book) find(appID, outTradeNo, tradeNo string) *trade {
	if tradeNo != "" {
		if t := b.byTradeNo[tradeNo]; t != nil && t.AppID == appID {
			return t
		}
		return nil
	}
	return b.trades[tradeKey(appID, outTradeNo)]
}

// newTradeNo returns a trade_no not yet in use.
func (b *book) newTradeNo(at time.Time) string {
	for {
		no := newTradeNo(at)
		if b.byTradeNo[no] == nil {
			return no
		}
	}
}

// newCode returns a precreate code not yet in use.
func (b *book) newCode() string {
	for {
		code := newQRCode()
		if b.byCode[code] == nil {
			return code
		}
	}
}

// advance applies what the passage of time did to t by now: a confirmed
// 29… payment, a timeout, the end of the refund period. Each change is dated
// when it happened, not when it was noticed. It returns the notifications the
// changes cause and whether t changed.
func (s *Server) advance(t *trade, now time.Time) (bool, []*notification) {
	var notes []*notification
	changed := false
	for {
		switch {
		case t.Status == alipay.TradeWaitBuyerPay && !t.PayAt.IsZero() && t.PayAt.Before(t.Expires) && !now.Before(t.PayAt):
			notes = append(notes, s.markPaid(t, t.PayAt))
		case t.Status == alipay.TradeWaitBuyerPay && !now.Before(t.Expires):
			notes = append(notes, s.markClosed(t, t.Expires, closedTimeout))
		case t.Status == alipay.TradeSuccess && !now.Before(t.Paid.Add(s.cfg.RefundPeriod)):
			t.Status = alipay.TradeFinished
			t.Finished = t.Paid.Add(s.cfg.RefundPeriod)
			notes = append(notes, s.note(t, t.Finished, nil))
		default:
			return changed, notes
		}
		changed = true
	}
}

// markPaid moves a WAIT_BUYER_PAY trade to TRADE_SUCCESS.
func (s *Server) markPaid(t *trade, at time.Time) *notification {
	t.Status = alipay.TradeSuccess
	t.Paid = at
	t.PayAt = time.Time{}
	return s.note(t, at, nil)
}

// markClosed moves a trade to TRADE_CLOSED for reason.
func (s *Server) markClosed(t *trade, at time.Time, reason string) *notification {
	t.Status = alipay.TradeClosed
	t.Closed = at
	t.CloseReason = reason
	t.PayAt = time.Time{}
	return s.note(t, at, nil)
}

// touch brings t up to date with the clock and saves what changed. The
// caller holds s.mu.
func (s *Server) touch(t *trade, now time.Time) {
	if changed, notes := s.advance(t, now); changed {
		if err := s.commit(t, notes...); err != nil {
			s.log.Error("persist trade", "out_trade_no", t.OutTradeNo, "err", err)
		}
	}
}

// lookup finds and updates a trade; nil when unknown. The caller holds s.mu.
func (s *Server) lookup(appID, outTradeNo, tradeNo string, now time.Time) *trade {
	t := s.book.find(appID, outTradeNo, tradeNo)
	if t != nil {
		s.touch(t, now)
	}
	return t
}

// commit files t, saves it with the notifications it causes in one journal
// write, and hands the notifications to the notifier. The caller holds s.mu.
// On a persistence error the in-memory change stands (the caller reports
// an unknown result) and the notifications are still sent.
func (s *Server) commit(t *trade, notes ...*notification) error {
	s.book.index(t)
	kept := s.notifier.screen(notes)
	recs := make([]simjournal.Record, 0, 1+len(kept))
	recs = append(recs, simjournal.Put(kindTrade, t.key(), t))
	for _, n := range kept {
		recs = append(recs, simjournal.Put(kindNotify, n.ID, n))
	}
	err := s.store.Append(recs...)
	s.notifier.add(kept)
	return err
}

// sweep brings every active trade up to date. The caller holds s.mu.
func (s *Server) sweep(now time.Time) {
	for t := range s.book.active {
		s.touch(t, now)
	}
	s.pruneBills(now)
}
