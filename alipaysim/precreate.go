package alipaysim

import (
	"strings"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
)

// Sub-messages of trade conflicts.
const (
	subMsgHasSuccess   = "交易已被支付"
	subMsgHasClose     = "交易已经关闭"
	subMsgInconsistent = "交易信息被篡改"
)

// fingerprint joins the parameters that must stay the same when an
// out_trade_no is used again (§8.3).
func fingerprint(kind string, total paygate.Money, parts ...string) string {
	return kind + "\x1f" + total.Yuan() + "\x1f" + strings.Join(parts, "\x1f")
}

// checkNotifyURL adds an ACQ.INVALID_PARAMETER for a notify_url Alipay would
// never call back (§1.3).
func checkNotifyURL(p *params, c *call) string {
	u := c.notifyURL()
	if u != "" && alipay.CheckNotifyURL(u) != nil {
		p.fail("参数notify_url格式错误，应为不带参数的http(s)地址，最长256")
	}
	return u
}

// precreate answers alipay.trade.precreate (§3.1). It creates no trade: the
// trade exists once a buyer scans the code (ScanQR, PayQR).
func (s *Server) precreate(c *call) *node {
	p := params{b: c.biz}
	out := p.outTradeNo(true)
	total := p.amount("total_amount")
	subject := p.text("subject", true, 256)
	body := p.text("body", false, 128)
	te := p.express("timeout_express")
	qte := p.express("qr_code_timeout_express")
	notifyURL := checkNotifyURL(&p, c)
	if p.bad != nil {
		return p.bad
	}
	fp := fingerprint(kindPrecreate, total, subject, body, te, qte)
	now := c.now

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.book.cancelled[tradeKey(c.app.AppID, out)]; ok {
		return business(alipay.SubTradeHasClose, subMsgHasClose)
	}
	t := s.lookup(c.app.AppID, out, "", now)
	if t != nil {
		switch {
		case t.Voided != "", t.Status == alipay.TradeClosed:
			return business(alipay.SubTradeHasClose, subMsgHasClose)
		case t.Status == alipay.TradeSuccess, t.Status == alipay.TradeFinished:
			return business(alipay.SubTradeHasSuccess, subMsgHasSuccess)
		case t.exists() && (t.Kind != kindPrecreate || t.Fingerprint != fp):
			return business(alipay.SubContextInconsistent, subMsgInconsistent)
		case t.exists():
			return success().str("out_trade_no", out).str("qr_code", t.QRCode)
		case t.Fingerprint == fp && now.Before(t.CodeExpires):
			return success().str("out_trade_no", out).str("qr_code", t.QRCode)
		}
		delete(s.book.byCode, t.QRCode) // replaced before anyone scanned it
	}
	t = &trade{
		AppID: c.app.AppID, SellerID: c.app.SellerID, OutTradeNo: out, Kind: kindPrecreate,
		Fingerprint: fp, Total: total, Subject: subject, Body: body, NotifyURL: notifyURL,
		TimeoutExpress: te, QRCode: s.book.newCode(), CodeAt: now,
		CodeExpires: deadline(now, qte, defaultCodeTimeout),
	}
	if err := s.commit(t); err != nil {
		return s.persistFailed(err)
	}
	return success().str("out_trade_no", out).str("qr_code", t.QRCode)
}
