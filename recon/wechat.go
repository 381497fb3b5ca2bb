package recon

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/gateway"
	"github.com/paygate/paygate/wechatpay"
)

// WechatBills is the part of the WeChat Pay client a reconciliation of
// WeChat Pay's bills calls; *wechatpay.Client implements it.
type WechatBills interface {
	MchID() string
	TradeBill(ctx context.Context, req wechatpay.BillRequest) (*wechatpay.BillURL, error)
	DownloadBillTo(ctx context.Context, b *wechatpay.BillURL, w io.Writer) (int64, error)
}

// Wechat is WeChat Pay's bills through client: the day's trade bill of
// every order (bill_type ALL, docs/wechatpay-protocol.md §7), downloaded
// gzipped and checked against its SHA-1, read as UTF-8 CSV. A nil client
// reconciles bill files only (plain or gzipped CSV).
//
// WeChat Pay makes a day's bill from 10:00 the next day, China time:
// before that it answers STATEMENT_CREATING, which is ErrBillNotReady (ask
// again later); a day without trades has no bill (NO_STATEMENT_EXIST),
// which is an empty bill, not a failure.
//
// Rows: a SUCCESS row is a payment (商户订单号 the channel number, 微信订单号
// the trade number, 订单金额 the amount; a bill without that column gives
// 应结订单金额 plus 代金券金额); a REFUND row is a refund (申请退款金额, or
// 退款金额 without that column) under 商户退款单号, which the merge reads
// back into paygate's out_request_no (gateway.WechatOutRefundNo: the short
// form is read back, a hashed one matched against the order's refunds; a
// reverse's refund, under the trade's own number, or one made at the
// merchant platform stays as it is, and a refund the books cannot place is
// a difference). Any other row the bill lists (a paid trade reversed later
// shows under its payment's number, §7.1) is taken as the payment it was.
// Every row must be of the client's mchid, and every payment of the day.
func Wechat(client WechatBills) Bills { return wechatBills{client} }

type wechatBills struct{ client WechatBills }

func (wechatBills) Channel() paygate.Channel { return paygate.ChannelWechat }
func (wechatBills) Title() string            { return "WeChat Pay" }

func (wechatBills) refundNos() refundNos {
	return refundNos{out: gateway.WechatOutRefundNo, back: gateway.WechatOutRequestNo}
}

// fetch asks for the day's trade bill and downloads it, gunzipped and
// verified, into an unlinked temporary file.
func (w wechatBills) fetch(ctx context.Context, day, dir string) (*os.File, error) {
	if w.client == nil {
		return nil, fmt.Errorf("reconcile %s: no WeChat Pay client configured: give a bill file", day)
	}
	u, err := w.client.TradeBill(ctx, wechatpay.BillRequest{BillDate: day, BillType: wechatpay.BillTypeAll, Gzip: true})
	switch {
	case wechatpay.IsCode(err, wechatpay.CodeNoStatementExist):
		return nil, nil // no trades that day: an empty bill
	case wechatpay.IsCode(err, wechatpay.CodeStatementCreating):
		return nil, fmt.Errorf("%w: WeChat Pay's bill of %s is still being made (STATEMENT_CREATING; it is due from 10:00 the next day, China time)",
			ErrBillNotReady, day)
	case err != nil:
		return nil, fmt.Errorf("reconcile %s: ask for the bill: %w", day, err)
	}
	f, err := billFile(dir, "paygate-wxbill-*.csv", day)
	if err != nil {
		return nil, err
	}
	if _, err := w.client.DownloadBillTo(ctx, u, f); err != nil {
		f.Close()
		return nil, fmt.Errorf("reconcile %s: %w", day, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("reconcile %s: %w", day, err)
	}
	return f, nil
}

// open reads a WeChat Pay trade bill, plain or gzipped.
func (w wechatBills) open(f *os.File, start, end time.Time) (billRows, error) {
	br := bufio.NewReaderSize(f, 64<<10)
	var src io.Reader = br
	var zr *gzip.Reader
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		if zr, err = gzip.NewReader(br); err != nil {
			return nil, fmt.Errorf("gunzip the bill: %w", err)
		}
		src = zr
	}
	r, err := wechatpay.NewBillReader(src)
	if err != nil {
		return nil, err
	}
	rows := &wechatRows{r: r, zr: zr, start: start, end: end}
	if w.client != nil {
		rows.mchID = w.client.MchID()
	}
	return rows, nil
}

// wechatRows reads a WeChat Pay bill's rows as entries.
type wechatRows struct {
	r          *wechatpay.BillReader
	zr         *gzip.Reader // nil for a plain file
	mchID      string       // "": not checked (a bill file without a client)
	start, end time.Time
}

func (w *wechatRows) next(e *entry) error {
	row, err := w.r.Next()
	if err != nil {
		return err
	}
	if w.mchID != "" && row.MchID != w.mchID {
		return fmt.Errorf("the bill has a row of merchant %s, not %s: another merchant's bill", row.MchID, w.mchID)
	}
	*e = entry{key: row.OutTradeNo, tradeNo: row.TransactionID, at: row.TradeTime.UnixMicro()}
	if row.IsRefund() {
		e.kind, e.outRequestNo, e.amount = kindRefund, row.OutRefundNo, paygate.Money(row.RequestedRefund)
		if e.amount == 0 {
			e.amount = paygate.Money(row.RefundAmount)
		}
		return nil
	}
	if row.TradeTime.Before(w.start) || !row.TradeTime.Before(w.end) {
		return fmt.Errorf("the bill has a payment of %s (%s): not that day's bill", row.OutTradeNo,
			row.TradeTime.In(wechatpay.ChinaTime).Format(wechatpay.BillTimeLayout))
	}
	e.kind, e.amount = kindPayment, paygate.Money(row.Total)
	if e.amount == 0 {
		e.amount = paygate.Money(row.Settlement + row.Coupon)
	}
	return nil
}

func (w *wechatRows) close() {
	if w.zr != nil {
		w.zr.Close()
	}
}
