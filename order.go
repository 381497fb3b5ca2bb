package paygate

import "time"

// OrderStatus is an order's state in the gateway; see Transition.
type OrderStatus string

// Order states. A partial refund keeps StatusPaid and raises RefundedAmount;
// StatusRefunded means fully refunded.
const (
	StatusPending  OrderStatus = "pending"
	StatusPaid     OrderStatus = "paid"
	StatusClosed   OrderStatus = "closed"
	StatusRefunded OrderStatus = "refunded"
)

// Valid reports whether s is one of the four states.
func (s OrderStatus) Valid() bool {
	switch s {
	case StatusPending, StatusPaid, StatusClosed, StatusRefunded:
		return true
	}
	return false
}

// Final reports whether no further status change can happen.
func (s OrderStatus) Final() bool { return s == StatusClosed || s == StatusRefunded }

// transitions lists every legal status change; anything else is a bug or a
// hostile input and is rejected.
var transitions = map[OrderStatus][]OrderStatus{
	StatusPending: {StatusPaid, StatusClosed},
	StatusPaid:    {StatusRefunded},
}

// CanTransition reports whether an order may move from one status to another.
func CanTransition(from, to OrderStatus) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Mode is how the buyer pays.
type Mode string

// Payment modes.
const (
	ModeQR      Mode = "qr"      // the shop shows a code the buyer scans (precreate)
	ModeBarcode Mode = "barcode" // the shop scans the buyer's code (pay)
)

// Valid reports whether m is a known mode.
func (m Mode) Valid() bool { return m == ModeQR || m == ModeBarcode }

// Order is one payment a merchant asked for.
type Order struct {
	ID         int64
	MerchantID int64
	OutTradeNo string // the merchant's id, unique per merchant
	ChannelNo  string // the out_trade_no sent to the channel, unique across merchants
	TradeNo    string // the channel's id (Alipay's trade_no, WeChat's transaction_id), once known
	Mode       Mode
	// Channel is the channel the order is taken on: alipay or wechat. An
	// order created with auto keeps ChannelAuto until a payment on one
	// channel decides it, then names the channel that was paid. Stores
	// keep an empty Channel as ChannelAlipay (see Channel.OrDefault).
	Channel        Channel
	Subject        string
	TotalAmount    Money
	RefundedAmount Money
	Status         OrderStatus
	QRCode         string // Alipay's qr_code, for a QR order on alipay or auto
	// WechatCode is WeChat Pay's code_url (weixin://wxpay/...), for a QR
	// order on wechat or auto.
	WechatCode string
	BuyerID    string
	NotifyURL  string // the merchant's webhook URL for this order; empty uses the merchant's
	// CashierToken names the order's cashier page (/pay/{token}): at least
	// 128 random bits, set when a QR order is inserted, unique; "" for a
	// barcode order. It is never the merchant's out_trade_no, so a buyer
	// cannot guess another buyer's page.
	CashierToken string
	ReturnURL    string // where the cashier page sends the buyer once paid; "" for none
	ParamsHash   string // hash of the creating parameters, to tell a repeat from a conflict
	CreatedAt    time.Time
	UpdatedAt    time.Time
	ExpiresAt    time.Time
	PaidAt       time.Time // zero until paid
	ClosedAt     time.Time // zero until closed
	// CancelRequestedAt is set, and committed, before the gateway asks the
	// channel to cancel the trade. From then on a pending order can only end
	// closed: the cancel decides it, even if it refunds a buyer who paid.
	CancelRequestedAt time.Time
	Version           int64 // bumped on every update, for optimistic checks
}

// Refundable is what can still be refunded.
func (o *Order) Refundable() Money {
	if o.Status != StatusPaid {
		return 0
	}
	return o.TotalAmount - o.RefundedAmount
}

// Transition moves o to status to at time now, the only way a status changes.
// It rejects illegal moves with an EConflict error and stamps PaidAt/ClosedAt.
func (o *Order) Transition(to OrderStatus, now time.Time) error {
	if !CanTransition(o.Status, to) {
		return Errorf(EConflict, "order %s cannot go from %s to %s", o.OutTradeNo, o.Status, to)
	}
	o.Status = to
	o.UpdatedAt = now
	switch to {
	case StatusPaid:
		o.PaidAt = now
	case StatusClosed:
		o.ClosedAt = now
	}
	return nil
}
