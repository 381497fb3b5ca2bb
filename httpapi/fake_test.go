package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paygate/paygate"
)

// fakeOrders is an in-memory paygate.OrderService that records its calls.
// It keeps just enough state to answer consistently.
type fakeOrders struct {
	now func() time.Time

	mu        sync.Mutex
	calls     []fakeCall
	err       error         // when set, every method fails with it
	notifyErr error         // HandleNotification's answer
	block     chan struct{} // when set, CreateOrder waits until it is closed
	started   chan struct{} // when set, CreateOrder signals it on entry
	panicWith string        // when set, CreateOrder panics with it
	orders    []*paygate.Order
	refunds   []*paygate.Refund
}

type fakeCall struct {
	method   string
	merchant int64
	arg      any
}

func newFakeOrders(now func() time.Time) *fakeOrders { return &fakeOrders{now: now} }

var _ paygate.OrderService = (*fakeOrders)(nil)

func (f *fakeOrders) record(method string, m *paygate.Merchant, arg any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var id int64
	if m != nil {
		id = m.ID
	}
	f.calls = append(f.calls, fakeCall{method, id, arg})
	return f.err
}

// Calls returns the calls made so far.
func (f *fakeOrders) Calls() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeOrders) set(fn func(f *fakeOrders)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeOrders) find(m *paygate.Merchant, no string) (*paygate.Order, error) {
	for _, o := range f.orders {
		if o.MerchantID == m.ID && o.OutTradeNo == no {
			return o, nil
		}
	}
	return nil, paygate.Errorf(paygate.ENotFound, "order %s not found", no)
}

func (f *fakeOrders) CreateOrder(ctx context.Context, m *paygate.Merchant, req paygate.CreateOrder) (*paygate.Order, bool, error) {
	if err := f.record("CreateOrder", m, req); err != nil {
		return nil, false, err
	}
	f.mu.Lock()
	started, block, panicWith := f.started, f.block, f.panicWith
	f.mu.Unlock()
	if panicWith != "" {
		panic(panicWith)
	}
	if started != nil {
		started <- struct{}{}
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if o, err := f.find(m, req.OutTradeNo); err == nil {
		return o, false, nil
	}
	now := f.now()
	o := &paygate.Order{
		ID: int64(len(f.orders) + 1), MerchantID: m.ID, OutTradeNo: req.OutTradeNo,
		Mode: req.Mode, Channel: req.Channel, Subject: req.Subject, TotalAmount: req.TotalAmount,
		Status: paygate.StatusPending, CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute),
	}
	if req.Mode == paygate.ModeBarcode && req.Channel == paygate.ChannelAuto { // routed by the code's prefix
		o.Channel = paygate.ChannelAlipay
		if paygate.IsWechatAuthCode(req.AuthCode) {
			o.Channel = paygate.ChannelWechat
		}
	}
	switch {
	case req.Mode == paygate.ModeQR:
		// Each channel's code, as the gateway stores them: both for auto.
		if req.Channel != paygate.ChannelWechat {
			o.QRCode = "https://qr.alipay.com/" + req.OutTradeNo
		}
		if req.Channel != paygate.ChannelAlipay {
			o.WechatCode = "weixin://wxpay/bizpayurl?pr=" + req.OutTradeNo
		}
		o.CashierToken = "tok_" + req.OutTradeNo // the gateway's are random; a fixed one keeps the JSON checkable
		o.ReturnURL = req.ReturnURL
	case strings.HasPrefix(req.AuthCode, "26"), strings.HasPrefix(req.AuthCode, "13"):
		// Declined, as the simulators decline 26… (Alipay) and 13… (WeChat Pay).
		o.Status = paygate.StatusClosed
		f.orders = append(f.orders, o)
		return nil, false, paygate.Errorf(paygate.EPaymentFailed, "pay: the channel refused: balance not enough (ACQ.BUYER_BALANCE_NOT_ENOUGH)")
	default:
		o.Status, o.PaidAt, o.TradeNo, o.BuyerID = paygate.StatusPaid, now, "2026"+req.OutTradeNo, "2088000000000001"
	}
	f.orders = append(f.orders, o)
	return o, true, nil
}

func (f *fakeOrders) GetOrder(_ context.Context, m *paygate.Merchant, no string, refresh bool) (*paygate.Order, error) {
	if err := f.record("GetOrder", m, [2]any{no, refresh}); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.find(m, no)
}

func (f *fakeOrders) ListOrders(_ context.Context, filter paygate.OrderFilter) ([]*paygate.Order, error) {
	if err := f.record("ListOrders", nil, filter); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*paygate.Order
	for i := len(f.orders) - 1; i >= 0 && len(out) < filter.Limit; i-- {
		o := f.orders[i]
		if o.MerchantID == filter.MerchantID && (filter.Status == "" || o.Status == filter.Status) &&
			(filter.BeforeID == 0 || o.ID < filter.BeforeID) {
			out = append(out, o)
		}
	}
	return out, nil
}

func (f *fakeOrders) CloseOrder(_ context.Context, m *paygate.Merchant, no string) (*paygate.Order, error) {
	if err := f.record("CloseOrder", m, no); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o, err := f.find(m, no)
	if err != nil {
		return nil, err
	}
	if o.Status == paygate.StatusPending {
		o.Status = paygate.StatusClosed
	}
	return o, nil
}

func (f *fakeOrders) Refund(_ context.Context, m *paygate.Merchant, no string, req paygate.CreateRefund) (*paygate.Refund, bool, error) {
	if err := f.record("Refund", m, req); err != nil {
		return nil, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o, err := f.find(m, no)
	if err != nil {
		return nil, false, err
	}
	for _, r := range f.refunds {
		if r.OrderID == o.ID && r.OutRequestNo == req.OutRequestNo {
			return r, false, nil
		}
	}
	now := f.now()
	r := &paygate.Refund{
		ID: int64(len(f.refunds) + 1), OrderID: o.ID, MerchantID: m.ID, OutTradeNo: no,
		OutRequestNo: req.OutRequestNo, Amount: req.Amount, Reason: req.Reason,
		Status: paygate.RefundSucceeded, CreatedAt: now, SucceededAt: now,
	}
	f.refunds = append(f.refunds, r)
	return r, true, nil
}

func (f *fakeOrders) ListRefunds(_ context.Context, m *paygate.Merchant, no string) ([]*paygate.Refund, error) {
	if err := f.record("ListRefunds", m, no); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o, err := f.find(m, no)
	if err != nil {
		return nil, err
	}
	var out []*paygate.Refund
	for _, r := range f.refunds {
		if r.OrderID == o.ID {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeOrders) HandleWechatNotification(_ context.Context, header http.Header, body []byte) error {
	f.record("HandleWechatNotification", nil, string(body))
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.notifyErr
}

func (f *fakeOrders) HandleNotification(_ context.Context, form url.Values) error {
	f.record("HandleNotification", nil, form)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.notifyErr
}
