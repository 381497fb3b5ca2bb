package recon

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
)

// Bills is one channel's bills: where a day's trade bill comes from and
// how a bill file is read, entry by entry. Alipay and Wechat make them.
type Bills interface {
	// Channel is the channel whose bills these are.
	Channel() paygate.Channel
	// Title is the channel's name as reports write it ("Alipay").
	Title() string
	// fetch downloads day's trade bill into an unlinked temporary file in
	// dir. A nil file without error is an empty bill (the channel has none
	// for a day without trades); ErrBillNotReady: not published yet.
	fetch(ctx context.Context, day, dir string) (*os.File, error)
	// open reads a bill file of the day [start, end).
	open(f *os.File, start, end time.Time) (billRows, error)
	// refundNos is how the channel numbers paygate's refunds.
	refundNos() refundNos
}

// billRows is an opened bill: its rows as entries, in the bill's order.
type billRows interface {
	// next reads the next row into e; io.EOF after the last, once the
	// rows were checked against the bill's own totals.
	next(e *entry) error
	close()
}

// emptyBill is the bill of a day the channel had nothing on.
type emptyBill struct{}

func (emptyBill) next(*entry) error { return io.EOF }
func (emptyBill) close()            {}

// refundNos says how a channel numbers paygate's refunds: the number it
// has for a refund of channelNo's trade (out_refund_no), and that number
// read back into paygate's out_request_no where it can be; identity for
// Alipay, which takes paygate's number as is.
type refundNos struct {
	// out is the channel's number for paygate's refund outRequestNo.
	out func(channelNo, outRequestNo string) string
	// back is paygate's out_request_no of the channel's number, or the
	// number itself when it cannot be read back (hashed, or not made by
	// paygate).
	back func(channelNo, outRefundNo string) string
}

func sameNo(_, no string) string { return no }

// billFile makes an unlinked temporary file for a downloaded bill.
func billFile(dir, pattern, day string) (*os.File, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, fmt.Errorf("reconcile %s: %w", day, err)
	}
	os.Remove(f.Name())
	return f, nil
}

// AlipayBills is the part of the Alipay client a reconciliation of
// Alipay's bills calls; *alipay.Client implements it.
type AlipayBills interface {
	BillURL(ctx context.Context, req alipay.BillURLRequest) (*alipay.BillURLResponse, error)
	DownloadBillTo(ctx context.Context, billURL string, w io.Writer) (int64, error)
}

// Alipay is Alipay's bills through client: the trade bill (a zip of GBK
// CSV, alipay.OpenBillZip). A nil client reconciles bill files only.
func Alipay(client AlipayBills) Bills { return alipayBills{client} }

type alipayBills struct{ client AlipayBills }

func (alipayBills) Channel() paygate.Channel { return paygate.ChannelAlipay }
func (alipayBills) Title() string            { return "Alipay" }
func (alipayBills) refundNos() refundNos     { return refundNos{out: sameNo, back: sameNo} }

// fetch asks Alipay where the day's trade bill is and streams it into an
// unlinked temporary file.
func (a alipayBills) fetch(ctx context.Context, day, dir string) (*os.File, error) {
	if a.client == nil {
		return nil, fmt.Errorf("reconcile %s: no Alipay client configured: give a bill file", day)
	}
	resp, err := a.client.BillURL(ctx, alipay.BillURLRequest{BillType: alipay.BillTypeTrade, BillDate: day})
	switch {
	case alipay.IsSubCode(err, alipay.SubBillNotExist):
		return nil, fmt.Errorf("%w: %s", ErrBillNotReady, day)
	case err != nil:
		return nil, fmt.Errorf("reconcile %s: ask for the bill: %w", day, err)
	}
	f, err := billFile(dir, "paygate-bill-*.zip", day)
	if err != nil {
		return nil, err
	}
	if _, err := a.client.DownloadBillTo(ctx, resp.BillDownloadURL, f); err != nil {
		f.Close()
		return nil, fmt.Errorf("reconcile %s: %w", day, err)
	}
	return f, nil
}

// open reads an Alipay bill archive, which names its own period: it must
// be the day's.
func (alipayBills) open(f *os.File, start, end time.Time) (billRows, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	br, err := alipay.OpenBillZip(f, fi.Size())
	if err != nil {
		return nil, err
	}
	if !br.Start.Equal(start) || !br.End.Equal(end) {
		br.Close()
		return nil, fmt.Errorf("the bill covers %s to %s, not that day", alipay.FormatTime(br.Start), alipay.FormatTime(br.End))
	}
	return &alipayRows{br: br}, nil
}

// alipayRows reads an Alipay bill's rows: trades (payments) and refunds,
// whose receipt amount the bill writes negative.
type alipayRows struct {
	br  *alipay.BillReader
	row alipay.BillRow // Extra stays nil: NextInto skips the other columns
}

func (r *alipayRows) next(e *entry) error {
	if err := r.br.NextInto(&r.row); err != nil {
		return err
	}
	row := &r.row
	*e = entry{key: row.OutTradeNo, tradeNo: row.TradeNo, at: row.Finished.UnixMicro()}
	if row.Kind == alipay.BillKindTrade {
		e.kind, e.amount = kindPayment, row.TotalAmount
	} else {
		e.kind, e.amount, e.outRequestNo = kindRefund, -row.ReceiptAmount, row.OutRequestNo
	}
	return nil
}

func (r *alipayRows) close() { r.br.Close() }
