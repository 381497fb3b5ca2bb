package wechatpay_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/wechatpay"
)

func TestParseBillGolden(t *testing.T) {
	t.Parallel()
	bill, err := wechatpay.ParseBill([]byte(mustRead(t, "testdata/tradebill.csv")))
	if err != nil {
		t.Fatal(err)
	}
	if len(bill.Rows) != 3 {
		t.Fatalf("%d rows", len(bill.Rows))
	}
	pay, refund, code := bill.Rows[0], bill.Rows[1], bill.Rows[2]
	checks := []struct {
		name      string
		got, want any
	}{
		{"pay time", pay.TradeTime.UTC(), time.Date(2024, 5, 18, 2, 35, 12, 0, time.UTC)},
		{"pay appid", pay.AppID, testAppID},
		{"pay mchid", pay.MchID, testMchID},
		{"pay sub mchid", pay.SubMchID, "0"},
		{"pay transaction", pay.TransactionID, "4200001863202405188344507881"},
		{"pay out_trade_no", pay.OutTradeNo, "PG20240518103456ABCD"},
		{"pay openid", pay.OpenID, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
		{"pay type", pay.TradeType, "NATIVE"},
		{"pay state", pay.TradeState, "SUCCESS"},
		{"pay is refund", pay.IsRefund(), false},
		{"pay settlement", pay.Settlement, int64(100)},
		{"pay refund id", pay.RefundID, ""},
		{"pay out refund no", pay.OutRefundNo, ""},
		{"pay description (comma inside)", pay.Description, "拿铁咖啡, 大杯"},
		{"pay attach", pay.Attach, "自定义数据"},
		{"pay fee", pay.Fee, int64(600)},
		{"pay rate", pay.Rate, "0.60%"},
		{"pay total", pay.Total, int64(100)},
		{"pay extra", len(pay.Extra), 0},
		{"refund state", refund.IsRefund(), true},
		{"refund id", refund.RefundID, "50300807092024051805990201735"},
		{"refund out no", refund.OutRefundNo, "RF20240518110000XYZ"},
		{"refund amount", refund.RefundAmount, int64(40)},
		{"refund requested", refund.RequestedRefund, int64(40)},
		{"refund type", refund.RefundType, "ORIGINAL"},
		{"refund status", refund.RefundStatus, "SUCCESS"},
		{"refund fee", refund.Fee, int64(-240)},
		{"code device", code.DeviceID, "POS-7"},
		{"code type", code.TradeType, "MICROPAY"},
		{"code settlement", code.Settlement, int64(2550)},
		{"code attach", code.Attach, ""},
		{"code extra", code.Extra["费率备注"], "门店费率"},
		{"summary", bill.Summary, wechatpay.BillSummary{Count: 3, Settlement: 2650, Refund: 40, Fee: 15660, Total: 2650, RequestedRefund: 40}},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
}

// The fact sheet's sample bill (§7.3, a 2021 capture), with \r\n line ends
// and a BOM, the variants a client must accept.
func TestParseBillFactSheetSample(t *testing.T) {
	t.Parallel()
	const sample = "\ufeff交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n" +
		"`2021-01-28 17:07:11,`wx81be3101902f7cb2,`1601959334,`0,`,`4200000925202101284997714292,`S20210128170702357723,`ofyak5qR_1wYsC99CsWA6R9MJazA,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.01,`0.00,`0,`0,`0.00,`0.00,`,`,`for testing,`cipher code,`0.00000,`1.00%,`0.01,`0.00,`\r\n" +
		"总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n" +
		"`1,`0.01,`0.00,`0.00,`0.00000,`0.01,`0.00\r\n"
	bill, err := wechatpay.ParseBill([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(bill.Rows) != 1 || bill.Rows[0].OutTradeNo != "S20210128170702357723" || bill.Rows[0].Settlement != 1 || bill.Summary.Settlement != 1 {
		t.Fatalf("%+v", bill)
	}
}

func TestParseBillRefuses(t *testing.T) {
	t.Parallel()
	good := mustRead(t, "testdata/tradebill.csv")
	lines := strings.Split(strings.TrimSuffix(good, "\n"), "\n")
	join := func(ls ...string) string { return strings.Join(ls, "\n") + "\n" }
	cases := map[string]string{
		"empty":                 "",
		"cut after rows":        join(lines[:4]...),
		"cut after sum header":  join(lines[:5]...),
		"count off":             join(append(lines[:5:5], strings.Replace(lines[5], "`3,", "`4,", 1))...),
		"settlement off":        join(append(lines[:5:5], strings.Replace(lines[5], "`26.50,`0.40,", "`26.51,`0.40,", 1))...),
		"refund total off":      join(append(lines[:5:5], strings.Replace(lines[5], "`26.50,`0.40,", "`26.50,`0.41,", 1))...),
		"order total off":       join(append(lines[:5:5], "`3,`26.50,`0.40,`0.00,`0.15660,`26.49,`0.40")...),
		"row dropped":           join(append([]string{lines[0], lines[1], lines[2]}, lines[4:]...)...),
		"junk after summary":    good + "more\n",
		"bad amount":            strings.Replace(good, "`25.50,", "`25.5.0,", 1),
		"three decimals":        strings.Replace(good, "`25.50,", "`25.500,", 1),
		"bad time":              strings.Replace(good, "`2024-05-18 12:01:00", "`2024/05/18 12:01:00", 1),
		"missing field":         strings.Replace(good, ",`门店费率", "", 1),
		"unticked row":          strings.Replace(good, "`2024-05-18 12:01:00", "2024-05-18 12:01:00", 1),
		"no mchid column":       strings.Replace(good, ",商户号,", ",商户編號,", 1),
		"refund without out no": strings.Replace(good, "`RF20240518110000XYZ", "`0", 1),
		"header is a row":       strings.Join(lines[1:], "\n") + "\n",
	}
	for name, in := range cases {
		_, err := wechatpay.ParseBill([]byte(in))
		t.Logf("%s: %v", name, err)
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestBillReaderStreams(t *testing.T) {
	t.Parallel()
	r, err := wechatpay.NewBillReader(strings.NewReader(mustRead(t, "testdata/tradebill.csv")))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if row.OutTradeNo == "" {
			t.Fatal("empty row")
		}
		n++
	}
	if n != 3 || r.Summary().Count != 3 {
		t.Fatalf("%d rows, summary %+v", n, r.Summary())
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the end: %v", err)
	}
	// A bill cut short fails at its end, and keeps failing.
	cut := strings.Split(mustRead(t, "testdata/tradebill.csv"), "总交易单数")[0]
	r, _ = wechatpay.NewBillReader(strings.NewReader(cut))
	var last error
	for range 5 {
		if _, last = r.Next(); last != nil {
			break
		}
	}
	if last == nil || last == io.EOF {
		t.Fatalf("cut bill: %v", last)
	}
	if _, again := r.Next(); !errors.Is(again, last) && again.Error() != last.Error() {
		t.Fatalf("later call: %v", again)
	}
}
