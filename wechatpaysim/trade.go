package wechatpaysim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"

	"github.com/paygate/paygate/simjournal"
	"github.com/paygate/paygate/wechatpay"
)

// Protocol periods (§4.1, §4.3, §5.1, §8.6).
const (
	codeURLLife   = 2 * time.Hour       // a code_url is valid this long
	defaultExpire = 7 * 24 * time.Hour  // payable this long without time_expire; then auto-closed
	maxExpire     = 90 * 24 * time.Hour // time_expire is cut to this
	minExpire     = time.Minute         // and raised to this
	reverseWindow = 7 * 24 * time.Hour
	refundPeriod  = 365 * 24 * time.Hour
	maxRefunds    = 50
)

// trade is one out_trade_no of one merchant: a Native order or a codepay.
type trade struct {
	MchID         string    `json:"mchid"`
	AppID         string    `json:"appid"`
	OutTradeNo    string    `json:"out_trade_no"`
	TransactionID string    `json:"transaction_id,omitempty"`
	TradeType     string    `json:"trade_type"`
	State         string    `json:"trade_state"`
	Description   string    `json:"description"`
	Attach        string    `json:"attach,omitempty"`
	NotifyURL     string    `json:"notify_url,omitempty"`
	Total         int64     `json:"total"`
	Params        string    `json:"params"` // the prepay's parameters, to compare a repeat
	CodeURL       string    `json:"code_url,omitempty"`
	CodeAt        time.Time `json:"code_at"`
	AuthCode      string    `json:"auth_code,omitempty"`
	DeviceID      string    `json:"device_id,omitempty"`
	Created       time.Time `json:"created"`
	PayBy         time.Time `json:"pay_by"`           // time_expire: the last moment to pay
	DueAt         time.Time `json:"due_at"`           // codepay: when USERPAYING resolves
	Paid          time.Time `json:"paid"`             // success_time
	Closed        time.Time `json:"closed"`           // CLOSED or REVOKED
	OpenID        string    `json:"openid,omitempty"` // the payer
	BankType      string    `json:"bank_type,omitempty"`
	Refunds       []*refund `json:"refunds,omitempty"`
}

// refund is one out_refund_no of a trade.
type refund struct {
	OutRefundNo string    `json:"out_refund_no"`
	RefundID    string    `json:"refund_id"`
	Amount      int64     `json:"amount"`
	Reason      string    `json:"reason,omitempty"`
	NotifyURL   string    `json:"notify_url,omitempty"`
	Status      string    `json:"status"`
	Created     time.Time `json:"created"`
	DueAt       time.Time `json:"due_at"`
	Success     time.Time `json:"success"`
	ByReverse   bool      `json:"by_reverse,omitempty"`
}

func tradeKey(mchID, outTradeNo string) string { return mchID + "/" + outTradeNo }

func (t *trade) key() string { return tradeKey(t.MchID, t.OutTradeNo) }

func (t *trade) paid() bool {
	return t.State == wechatpay.TradeSuccess || t.State == wechatpay.TradeRefund ||
		(t.State == wechatpay.TradeRevoked && !t.Paid.IsZero())
}

// refunded is what refunds took or are taking back, in fen.
func (t *trade) refunded() int64 {
	var n int64
	for _, r := range t.Refunds {
		if r.Status != wechatpay.RefundClosed {
			n += r.Amount
		}
	}
	return n
}

// book indexes every trade.
type book struct {
	trades    map[string]*trade // mchid/out_trade_no
	byTxn     map[string]*trade // transaction_id
	byCode    map[string]*trade // code_url
	byRefund  map[string]*trade // mchid/out_refund_no
	authCodes map[string]bool   // payment codes used once
	due       map[string]*trade // trades with a scheduled change
}

func newBook() *book {
	return &book{trades: map[string]*trade{}, byTxn: map[string]*trade{}, byCode: map[string]*trade{},
		byRefund: map[string]*trade{}, authCodes: map[string]bool{}, due: map[string]*trade{}}
}

// index (re)adds t to every index.
func (b *book) index(t *trade) {
	b.trades[t.key()] = t
	if t.TransactionID != "" {
		b.byTxn[t.TransactionID] = t
	}
	if t.CodeURL != "" {
		b.byCode[t.CodeURL] = t
	}
	if t.AuthCode != "" {
		b.authCodes[t.AuthCode] = true
	}
	pending := t.State == wechatpay.TradeUserPaying || t.State == wechatpay.TradeNotPay
	for _, r := range t.Refunds {
		b.byRefund[tradeKey(t.MchID, r.OutRefundNo)] = t
		pending = pending || r.Status == wechatpay.RefundProcessing
	}
	if pending {
		b.due[t.key()] = t
	} else {
		delete(b.due, t.key())
	}
}

// commit makes t's new state and its notifications durable, then indexes
// t and queues the notifications. On error nothing is indexed or sent:
// the caller answers SYSTEM_ERROR and must not have changed a live trade
// (it works on a copy).
func (s *Server) commit(t *trade, notes ...*notification) error {
	recs := []simjournal.Record{simjournal.Put(kindTrade, t.key(), t)}
	for _, n := range notes {
		recs = append(recs, simjournal.Put(kindNotify, n.ID, n))
	}
	if err := s.journal.Append(recs...); err != nil {
		s.log.Error("journal trade", "out_trade_no", t.OutTradeNo, "err", err)
		return err
	}
	s.book.index(t)
	s.notifier.add(notes...)
	return nil
}

// clone copies t deeply, so a change is applied only once committed.
func (t *trade) clone() *trade {
	c := *t
	c.Refunds = make([]*refund, len(t.Refunds))
	for i, r := range t.Refunds {
		rc := *r
		c.Refunds[i] = &rc
	}
	return &c
}

// sweep applies what the clock decided: payment codes confirmed or timed
// out, refunds done, unpaid orders auto-closed after 7 days. s.mu is held.
func (s *Server) sweep(now time.Time) {
	for _, t := range s.book.due {
		if c, notes := s.advance(t, now); c != nil {
			_ = s.commit(c, notes...) // on error: tried again next sweep
		}
	}
}

// advance returns t's state at now as a changed copy with its
// notifications, or nil when nothing changed.
func (s *Server) advance(t *trade, now time.Time) (*trade, []*notification) {
	var c *trade
	var notes []*notification
	mod := func() *trade {
		if c == nil {
			c = t.clone()
		}
		return c
	}
	switch {
	case t.State == wechatpay.TradeUserPaying && !now.Before(t.DueAt):
		if codeKind(t.AuthCode) == codeConfirms {
			s.markPaid(mod(), t.DueAt)
		} else {
			mod().State = wechatpay.TradePayError
		}
	case t.State == wechatpay.TradeNotPay && now.Sub(t.Created) >= defaultExpire:
		mod().State, c.Closed = wechatpay.TradeClosed, now
	}
	for i, r := range t.Refunds {
		if r.Status == wechatpay.RefundProcessing && !now.Before(r.DueAt) {
			cr := mod().Refunds[i]
			cr.Status, cr.Success = wechatpay.RefundSuccess, r.DueAt
			if n := s.refundNotification(c, cr, now); n != nil {
				notes = append(notes, n)
			}
		}
	}
	return c, notes
}

// markPaid records a payment at at by t's buyer (a new one when unknown).
func (s *Server) markPaid(t *trade, at time.Time) {
	t.State, t.Paid = wechatpay.TradeSuccess, at
	t.TransactionID = newTransactionID(at)
	if t.OpenID == "" {
		t.OpenID = NewOpenID()
	}
	t.BankType = "OTHERS"
}

// IDs (§10.2).

// newTransactionID is 42000 + 5 digits + yyyyMMdd (Beijing) + 10 digits.
func newTransactionID(at time.Time) string {
	return "42000" + digits(5) + at.In(wechatpay.ChinaTime).Format("20060102") + digits(10)
}

// newRefundID is 50 + 8 digits + yyyyMMdd (Beijing) + 11 digits.
func newRefundID(at time.Time) string {
	return "50" + digits(8) + at.In(wechatpay.ChinaTime).Format("20060102") + digits(11)
}

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewOpenID makes a buyer's openid: "o" and 27 of [A-Za-z0-9_-].
func NewOpenID() string { return "o" + pick(27, alnum+"_-") }

func newCodeURL() string { return codeURLPrefix + pick(9, alnum) }

func digits(n int) string { return pick(n, "0123456789") }

func pick(n int, alphabet string) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(fmt.Sprintf("wechatpaysim: crypto/rand: %v", err))
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// requestID is a Request-ID like WeChat Pay's (hex and a suffix).
func requestID() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%X-0", b)
}

func newNotifyID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
