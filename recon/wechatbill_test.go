package recon_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/gateway"
	"github.com/paygate/paygate/recon"
	"github.com/paygate/paygate/wechatpay"
	"github.com/paygate/paygate/wechatpaysim"
)

// wxRow is one row of a WeChat Pay trade bill a test writes: a payment
// (refundNo empty) or a refund. Amounts are fen.
type wxRow struct {
	at                 time.Time
	mchID, no, txn     string
	refundNo           string
	total, coupon, ref int64
}

func wxPay(no string, total int64, at time.Time) wxRow {
	return wxRow{at: at, mchID: wxMchID, no: no, txn: "4200" + no, total: total}
}

func wxRefund(no, refundNo string, amount int64, at time.Time) wxRow {
	return wxRow{at: at, mchID: wxMchID, no: no, txn: "4200" + no, refundNo: refundNo, ref: amount}
}

func yuan(fen int64) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }

// wxBillFile writes a trade bill in WeChat Pay's form (§7.3), gzipped when
// asked, and returns its path.
func wxBillFile(t *testing.T, gz bool, rows ...wxRow) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类," +
		"应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n")
	var settle, refunded, total, requested int64
	for _, r := range rows {
		state, refundID, refundNo, refundType, refundStatus := "SUCCESS", "0", "0", "", ""
		s, tot := r.total-r.coupon, r.total
		if r.refundNo != "" {
			state, refundID, refundNo, refundType, refundStatus = "REFUND", "503"+r.no, r.refundNo, "ORIGINAL", "SUCCESS"
			s, tot = 0, 0
		}
		settle, refunded, total, requested = settle+s, refunded+r.ref, total+tot, requested+r.ref
		vals := []string{r.at.In(wechatpay.ChinaTime).Format(wechatpay.BillTimeLayout), wxAppID, r.mchID, "0", "", r.txn, r.no,
			"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "NATIVE", state, "OTHERS", "CNY", yuan(s), yuan(r.coupon), refundID, refundNo,
			yuan(r.ref), "0.00", refundType, refundStatus, "咖啡", "", "0.00000", "0.60%", yuan(tot), yuan(r.ref), ""}
		b.WriteString("`" + strings.Join(vals, ",`") + "\r\n")
	}
	b.WriteString("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n")
	fmt.Fprintf(&b, "`%d,`%s,`%s,`0.00,`0.00000,`%s,`%s\r\n", len(rows), yuan(settle), yuan(refunded), yuan(total), yuan(requested))
	data := []byte(b.String())
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
		data = buf.Bytes()
	}
	path := filepath.Join(t.TempDir(), "tradebill.csv")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// wxOrder adds a WeChat Pay order to the books.
func (b *book) wxOrder(no string, status paygate.OrderStatus, total paygate.Money, paid time.Time) *paygate.Order {
	o := b.order(no, status, total, paid)
	o.Channel = paygate.ChannelWechat
	if o.TradeNo != "" {
		o.TradeNo = "4200" + no
	}
	return o
}

// TestWechatBillRows: WeChat Pay's bill rows, read from bill files (plain
// and gzipped), against WeChat Pay's books: payments by 订单金额 (a coupon
// does not make a difference), refunds under out_refund_no read back into
// paygate's number (the short form, and a hashed one of a refund the day's
// books hold pending), a reverse's refund of a closed order, a refund
// paygate never made and a payment it does not know (differences, never
// dropped). The day's Alipay orders are not WeChat Pay's books.
func TestWechatBillRows(t *testing.T) {
	stores(t, func(t *testing.T, st paygate.Store) {
		ctx := context.Background()
		b := newBook(t, st)
		noon := china(1, 12, 0, 0)
		b.refund(b.wxOrder("PGW1", paygate.StatusPaid, 1000, noon), "r1", 300, noon.Add(time.Hour)) // short form
		b.wxOrder("PGW2", paygate.StatusPaid, 800, noon)                                            // paid with a coupon
		hashed := b.wxOrder("PGW3", paygate.StatusPaid, 600, noon)                                  // a hashed refund, pending here
		b.wxOrder("PGW4", paygate.StatusClosed, 400, time.Time{})                                   // paid and reversed
		b.wxOrder("PGW5", paygate.StatusPaid, 500, noon)                                            // refunded at the platform
		b.order("PGA1", paygate.StatusPaid, 700, noon)                                              // Alipay's: not on this bill
		b.order("PGA2", paygate.StatusPaid, 900, noon)                                              // Alipay's, yet on this bill
		b.save()
		longNo := "refund-with-dashes"
		pending := &paygate.Refund{MerchantID: b.merchant.ID, OrderID: hashed.ID, OutTradeNo: hashed.OutTradeNo, OutRequestNo: longNo,
			Amount: 100, Status: paygate.RefundPending, CreatedAt: noon, UpdatedAt: noon}
		if err := st.(paygate.BulkOrderLoader).BulkInsertOrders(ctx, nil, []*paygate.Refund{pending}); err != nil {
			t.Fatal(err)
		}
		hashedNo := gateway.WechatOutRefundNo("PGW3", longNo)
		if !strings.Contains(hashedNo, "--") {
			t.Fatalf("%s is not hashed", hashedNo)
		}
		coupon := wxPay("PGW2", 800, noon)
		coupon.coupon = 200
		rows := []wxRow{
			wxPay("PGW1", 1000, noon), wxRefund("PGW1", gateway.WechatOutRefundNo("PGW1", "r1"), 300, noon.Add(time.Hour)),
			coupon,
			wxPay("PGW3", 600, noon), wxRefund("PGW3", hashedNo, 100, noon.Add(time.Hour)),
			wxPay("PGW4", 400, noon), wxRefund("PGW4", "PGW4", 400, noon.Add(time.Minute)),
			wxPay("PGW5", 500, noon), wxRefund("PGW5", "console-7", 50, noon.Add(time.Hour)),
			wxPay("PGX", 1234, noon),
			wxPay("PGA2", 900, noon), // money on WeChat Pay for an Alipay order, not given back
		}
		rc, err := recon.New(recon.Config{Store: st, Bills: recon.Wechat(nil), ChunkRows: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, gz := range []bool{false, true} {
			rep, err := rc.Run(ctx, "2026-11-01", recon.Options{BillFile: wxBillFile(t, gz, rows...)})
			if err != nil {
				t.Fatalf("gzipped %v: %v", gz, err)
			}
			want := map[string][]string{
				recon.MissingLocal:   {"PGX"},
				recon.RefundMismatch: {"PGW3/" + longNo, "PGW5/console-7"},
				recon.StatusMismatch: {"PGA2"},
			}
			if got := kinds(rep); !mapsEqual(got, want) {
				t.Fatalf("gzipped %v: differences %v, want %v", gz, got, want)
			}
			// Matched: W1 and r1, W2, W3's payment, W4 and its reverse's
			// refund, W5's payment. The books: W1, r1, W2, W3, W5.
			if rep.Channel != paygate.ChannelWechat || rep.ChannelRows != 11 || rep.Matched != 7 || rep.LocalRows != 5 {
				t.Fatalf("gzipped %v: channel %s, rows %d, matched %d, book rows %d", gz, rep.Channel, rep.ChannelRows, rep.Matched, rep.LocalRows)
			}
			for _, d := range rep.Differences {
				if d.Kind == recon.RefundMismatch && d.ChannelNo == "PGW3" && !strings.Contains(d.Action, "pending here") {
					t.Errorf("the hashed refund: %q", d.Action)
				}
				if !strings.Contains(d.Action, "WeChat Pay") && d.Kind != recon.MissingLocal {
					t.Errorf("%s %s: action %q does not name WeChat Pay", d.Kind, d.ChannelNo, d.Action)
				}
				if d.ChannelNo == "PGA2" && !strings.Contains(d.Action, "the order is Alipay's") {
					t.Errorf("money on WeChat Pay for an Alipay order: %q", d.Action)
				}
			}
		}
		// Alipay's reconciliation of the day never reads a WeChat Pay
		// order: PGA1 and PGA2 are its books.
		ali, err := recon.New(recon.Config{Store: st})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := ali.Run(ctx, "2026-11-01", recon.Options{BillFile: bill(t, 1, pay("PGA1", 700, noon), pay("PGA2", 900, noon))})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Channel != paygate.ChannelAlipay || rep.DifferenceCount != 0 || rep.Matched != 2 || rep.LocalRows != 2 {
			t.Fatalf("Alipay's run beside WeChat Pay's books: %s, matched %d, book rows %d, differences %v",
				rep.Channel, rep.Matched, rep.LocalRows, kinds(rep))
		}
		if _, err := st.Reconciliation(ctx, "2026-11-01", paygate.ChannelWechat); err != nil {
			t.Fatalf("WeChat Pay's report after Alipay's run: %v", err)
		}
	})
}

// TestWechatBillRefused: a bill that is not the day's, or not the
// merchant's, is refused whole.
func TestWechatBillRefused(t *testing.T) {
	stores(t, func(t *testing.T, st paygate.Store) {
		ctx := context.Background()
		// A real client of the simulator's merchant, never asked: bill
		// files are checked against its mchid.
		rc, err := recon.New(recon.Config{Store: st, Bills: recon.Wechat(newBoth(t, st, nil).wxCli)})
		if err != nil {
			t.Fatal(err)
		}
		other := wxPay("PGW1", 100, china(1, 12, 0, 0))
		other.mchID = "1900000009"
		for name, tc := range map[string]struct {
			row  wxRow
			want string
		}{
			"another day":      {wxPay("PGW1", 100, china(2, 0, 0, 1)), "not that day's bill"},
			"another merchant": {other, "another merchant's bill"},
		} {
			_, err := rc.Run(ctx, "2026-11-01", recon.Options{BillFile: wxBillFile(t, false, tc.row)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want %q", name, err, tc.want)
			}
		}
		rep, err := st.Reconciliation(ctx, "2026-11-01", paygate.ChannelWechat)
		if err != nil || rep.Status != paygate.ReconFailed {
			t.Fatalf("the failed run's report: %+v, %v", rep, err)
		}
	})
}

// TestWechatBillDue: WeChat Pay makes a day's bill from 10:00 the next
// day: before, the run is ErrBillNotReady (the daily job asks again
// later); after, the bill is downloaded (gzipped, its SHA-1 checked) and
// reconciled; a day without trades has no bill at all, which is an empty
// bill, reconciled clean.
func TestWechatBillDue(t *testing.T) {
	stores(t, func(t *testing.T, st paygate.Store) {
		ctx := context.Background()
		var mu sync.Mutex
		now := china(1, 12, 0, 0)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		set := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
		w := newBoth(t, st, clock)
		if err := w.wx.SetFaults(wechatpaysim.Faults{}); err != nil {
			t.Fatal(err)
		}
		tr, err := w.wxCli.CodePay(ctx, wechatpay.CodePayRequest{Description: "tea", OutTradeNo: "PGDUE1",
			Payer: wechatpay.CodePayPayer{AuthCode: wxAuthCode("10")}, Amount: wechatpay.Amount{Total: 250, Currency: wechatpay.CurrencyCNY},
			SceneInfo: wechatpay.SceneInfo{DeviceID: "paygate"}})
		if err != nil {
			t.Fatal(err)
		}
		b := newBook(t, st)
		b.wxOrder("PGDUE1", paygate.StatusPaid, 250, china(1, 12, 0, 0)).TradeNo = tr.TransactionID
		b.save()
		rc, err := recon.New(recon.Config{Store: st, Bills: recon.Wechat(w.wxCli), TempDir: t.TempDir(), Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		set(china(2, 9, 59, 0))
		if _, err := rc.Run(ctx, "2026-11-01", recon.Options{}); !errors.Is(err, recon.ErrBillNotReady) {
			t.Fatalf("before 10:00 the next day: %v, want ErrBillNotReady", err)
		}
		set(china(2, 10, 0, 1))
		rep, err := rc.Run(ctx, "2026-11-01", recon.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Source != "download" || rep.ChannelRows != 1 || rep.Matched != 1 || rep.DifferenceCount != 0 {
			t.Fatalf("the day's bill: source %q, rows %d, matched %d, differences %v", rep.Source, rep.ChannelRows, rep.Matched, kinds(rep))
		}
		rep, err = rc.Run(ctx, "2026-10-31", recon.Options{})
		if err != nil {
			t.Fatalf("a day without trades: %v", err)
		}
		if rep.Status != paygate.ReconDone || rep.ChannelRows != 0 || rep.DifferenceCount != 0 || !strings.Contains(rep.Source, "no bill") {
			t.Fatalf("a day without trades: %+v", rep)
		}
	})
}
