package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/paygate/paygate"
)

// CreateOrder records the order pending (durably, before the channel hears
// of it), then precreates a QR code or charges the barcode.
func (s *Service) CreateOrder(ctx context.Context, m *paygate.Merchant, req paygate.CreateOrder) (*paygate.Order, bool, error) {
	now := s.now()
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = s.cfg.DefaultTimeout
	}
	channel, err := s.orderChannel(req)
	if err != nil {
		return nil, false, err
	}
	o := &paygate.Order{
		MerchantID: m.ID, OutTradeNo: req.OutTradeNo, Mode: req.Mode, Subject: req.Subject, Channel: channel,
		TotalAmount: req.TotalAmount, Status: paygate.StatusPending, NotifyURL: req.NotifyURL,
		ReturnURL:  req.ReturnURL,
		ParamsHash: paramsHash(req, timeout), CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(timeout),
	}
	if err := s.insert(ctx, o); err != nil {
		if paygate.ErrorCode(err) != paygate.EConflict {
			return nil, false, fmt.Errorf("record order: %w", err)
		}
		return s.existing(ctx, m, req, o.ParamsHash)
	}
	s.log.InfoContext(ctx, "order recorded", "out_trade_no", o.OutTradeNo, "channel_no", o.ChannelNo,
		"merchant_id", m.ID, "mode", o.Mode, "channel", o.Channel, "amount", o.TotalAmount.Yuan())
	switch o.Mode {
	case paygate.ModeQR:
		o, err := s.precreate(ctx, o)
		return o, true, err
	case paygate.ModeBarcode:
		o, err := s.pay(ctx, o, req.AuthCode)
		return o, true, err
	}
	return nil, false, paygate.Errorf(paygate.EInvalid, "mode %q is not qr or barcode", o.Mode)
}

// orderChannel is the channel a new order is taken on: the one asked for
// (Alipay when none); for a barcode with "auto", the wallet whose code it
// is (WeChat's codes start 10 to 15, Alipay's 25 to 30). It must be
// configured on this node. A QR order with "auto" stays auto: it is offered
// on both channels (see precreateAuto).
func (s *Service) orderChannel(req paygate.CreateOrder) (paygate.Channel, error) {
	ch := req.Channel.OrDefault()
	if !ch.Valid() {
		return "", paygate.Errorf(paygate.EInvalid, "channel %q is not alipay, wechat or auto", ch)
	}
	if ch == paygate.ChannelAuto && req.Mode == paygate.ModeQR {
		switch {
		case s.channelOf(paygate.ChannelAlipay) == nil:
			ch = paygate.ChannelWechat // the one configured here
		case s.channelOf(paygate.ChannelWechat) == nil:
			ch = paygate.ChannelAlipay
		default:
			return ch, nil // offered on both (see precreateAuto)
		}
	}
	if ch == paygate.ChannelAuto {
		ch = paygate.ChannelAlipay
		if paygate.IsWechatAuthCode(req.AuthCode) {
			ch = paygate.ChannelWechat
		}
	}
	if s.channelOf(ch) == nil {
		return "", paygate.Errorf(paygate.EInvalid, "channel %s is not configured on this gateway", ch)
	}
	return ch, nil
}

// insert stores o with a fresh channel number and, for a QR order, a fresh
// cashier token (so the buyer's page exists from the moment the order does,
// before the channel is asked); a (vanishingly rare) clash of either is
// retried, a clash of out_trade_no is returned.
func (s *Service) insert(ctx context.Context, o *paygate.Order) error {
	for attempt := 0; ; attempt++ {
		no, err := newChannelNo(o.CreatedAt)
		if err != nil {
			return err
		}
		o.ChannelNo = no
		if o.Mode == paygate.ModeQR {
			if o.CashierToken, err = paygate.NewCashierToken(); err != nil {
				return err
			}
		}
		err = s.cfg.Store.Tx(ctx, func(tx paygate.StoreTx) error {
			if err := tx.CreateOrder(ctx, o); err != nil {
				return err
			}
			// Nothing relies on one message: the order is looked after in
			// the background from the start, even if this node dies now.
			return s.enqueue(ctx, tx, paygate.Job{Kind: paygate.JobCompensateOrder, OrderID: o.ID, RunAt: s.firstCompensation(o)})
		})
		if err == nil {
			s.flow().OrderMoved(string(o.Mode), string(o.Status), o.TotalAmount)
		}
		if err == nil || paygate.ErrorCode(err) != paygate.EConflict || attempt == 2 {
			return err
		}
		if _, lookup := s.cfg.Store.OrderByOutTradeNo(ctx, o.MerchantID, o.OutTradeNo); lookup == nil {
			return err // the out_trade_no exists: a real conflict
		}
	}
}

// existing answers a repeated create: the same parameters get the existing
// order (a QR order whose first precreate had no clear answer is precreated
// again, which Alipay allows for the same out_trade_no and parameters);
// other parameters are a conflict.
func (s *Service) existing(ctx context.Context, m *paygate.Merchant, req paygate.CreateOrder, hash string) (*paygate.Order, bool, error) {
	o, err := s.cfg.Store.OrderByOutTradeNo(ctx, m.ID, req.OutTradeNo)
	if err != nil {
		return nil, false, err
	}
	if o.ParamsHash != hash {
		return nil, false, paygate.Errorf(paygate.EOutTradeNoReused,
			"out_trade_no %s already names an order with other parameters", req.OutTradeNo)
	}
	if o.Mode == paygate.ModeQR && o.Status == paygate.StatusPending && len(o.QRCodes()) == 0 && s.now().Before(o.ExpiresAt) {
		o, err = s.precreate(ctx, o)
		return o, false, err
	}
	return o, false, nil
}

// paramsHash identifies the parameters of a create so a repeat can be told
// from a conflict. The auth code is left out: a repeat with a fresh barcode
// of the same payment must not charge twice. The return URL and a channel
// other than Alipay are hashed only when given, so that orders stored
// before they existed keep their hash and their repeats still match.
func paramsHash(req paygate.CreateOrder, timeout time.Duration) string {
	h := sha256.New()
	fields := []string{req.OutTradeNo, req.Subject, strconv.FormatInt(int64(req.TotalAmount), 10),
		string(req.Mode), req.NotifyURL, timeout.String()}
	if req.ReturnURL != "" {
		fields = append(fields, "return_url", req.ReturnURL)
	}
	if ch := req.Channel.OrDefault(); ch != paygate.ChannelAlipay {
		fields = append(fields, "channel", string(ch))
	}
	for _, f := range fields {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// view is o as webhooks carry it, with its cashier_url.
func (s *Service) view(o *paygate.Order) paygate.OrderView {
	v := o.View()
	v.CashierURL = o.CashierURL(s.cfg.PublicURL)
	return v
}

// precreate asks for the QR code. A refusal closes the order (no trade can
// exist); an unclear answer leaves it pending for a later repeat or query.
func (s *Service) precreate(ctx context.Context, o *paygate.Order) (*paygate.Order, error) {
	if o.Channel == paygate.ChannelAuto {
		return s.precreateAuto(ctx, o)
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	resp, err := s.ch(o).Precreate(cctx, PrecreateRequest{
		ChannelNo: o.ChannelNo, Amount: o.TotalAmount, Subject: o.Subject,
		ExpiresAt: o.ExpiresAt, TimeLeft: o.ExpiresAt.Sub(s.now()),
	})
	if errors.Is(err, ErrNotSent) {
		// The circuit is open and nothing reached Alipay: the order stays
		// pending without a code, so the merchant's repeat of the same
		// request precreates it once the channel is back (see existing).
		return nil, err
	}
	switch OutcomeOf(err) {
	case OutcomeSuccess:
		return s.update(ctx, o.ID, func(_ paygate.StoreTx, o *paygate.Order) error {
			code := &o.QRCode
			if o.Channel == paygate.ChannelWechat {
				code = &o.WechatCode
			}
			if *code == resp.QRCode {
				return errNoChange
			}
			*code, o.UpdatedAt = resp.QRCode, s.now()
			return nil
		})
	case OutcomeFailed, OutcomeConfig:
		s.log.WarnContext(ctx, "precreate refused", "out_trade_no", o.OutTradeNo, "err", err)
		if _, cerr := s.markClosed(ctx, o.ID, ""); cerr != nil {
			return nil, cerr
		}
		return nil, channelError("precreate", err)
	default:
		s.log.WarnContext(ctx, "precreate unknown", "out_trade_no", o.OutTradeNo, "err", err)
		return nil, channelError("precreate", err)
	}
}

// GetOrder returns the merchant's order; refresh queries the channel first
// and applies what it says. A barcode payment still being decided by its
// loop is returned as stored (pending), unasked: the loop may yet cancel,
// and so refund, a payment the channel reports made (see HandleNotification).
func (s *Service) GetOrder(ctx context.Context, m *paygate.Merchant, outTradeNo string, refresh bool) (*paygate.Order, error) {
	o, err := s.cfg.Store.OrderByOutTradeNo(ctx, m.ID, outTradeNo)
	if err != nil || !refresh || o.Status != paygate.StatusPending {
		return o, err
	}
	if s.barcodeDeciding(o) {
		return o, nil
	}
	settled, err := s.settleByQuery(ctx, o)
	if err != nil {
		s.log.WarnContext(ctx, "refresh: query failed; returning the stored order", "out_trade_no", outTradeNo, "err", err)
		return o, nil
	}
	return settled, nil
}

// settleByQuery asks the channel about a pending order and applies a final
// answer: paid, or closed (TRADE_CLOSED is final for an unpaid trade). It
// returns the order as stored after, and an error only when the channel did
// not answer clearly.
func (s *Service) settleByQuery(ctx context.Context, o *paygate.Order) (*paygate.Order, error) {
	if o.Channel == paygate.ChannelAuto {
		return s.settleAuto(ctx, o)
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	resp, err := s.ch(o).Query(cctx, o.ChannelNo)
	switch {
	case err == nil && resp.Paid():
		return s.markPaid(ctx, o.ID, paidFrom(resp))
	case err == nil && resp.State == TradeClosed:
		return s.markClosed(ctx, o.ID, resp.TradeNo)
	case err == nil, HasReason(err, ReasonTradeNotExist):
		return o, nil // waiting for the buyer, or not scanned yet
	default:
		return o, err
	}
}

func paidFrom(t *Trade) paidInfo {
	return paidInfo{TradeNo: t.TradeNo, BuyerID: t.BuyerID, Amount: t.Amount, PaidAt: t.PaidAt}
}

// ListOrders pages the merchant's orders.
func (s *Service) ListOrders(ctx context.Context, f paygate.OrderFilter) ([]*paygate.Order, error) {
	return s.cfg.Store.ListOrders(ctx, f)
}
