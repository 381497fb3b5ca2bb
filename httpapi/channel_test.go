package httpapi_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/paygate/paygate"
)

// TestCreateOrderChannel: "channel" reaches the service as given, alipay
// when absent, empty or null; the answer names the channel and shows its
// code as qr_code and every code under qr_codes.
func TestCreateOrderChannel(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const ali, wx = "https://qr.alipay.com/", "weixin://wxpay/bizpayurl?pr="
	tests := []struct {
		name, no  string
		channel   any // nil: absent
		mode      string
		authCode  string
		want      paygate.Channel // what the service gets
		answer    string          // the answer's channel
		qrCode    any
		qrCodes   any
		wantPaid  bool
		extraJSON string
	}{
		{name: "absent", no: "C1", mode: "qr", want: paygate.ChannelAlipay, answer: "alipay",
			qrCode: ali + "C1", qrCodes: map[string]any{"alipay": ali + "C1"}},
		{name: "empty", no: "C2", channel: "", mode: "qr", want: paygate.ChannelAlipay, answer: "alipay",
			qrCode: ali + "C2", qrCodes: map[string]any{"alipay": ali + "C2"}},
		{name: "null", no: "C3", mode: "qr", extraJSON: `,"channel":null`, want: paygate.ChannelAlipay, answer: "alipay",
			qrCode: ali + "C3", qrCodes: map[string]any{"alipay": ali + "C3"}},
		{name: "alipay", no: "C4", channel: "alipay", mode: "qr", want: paygate.ChannelAlipay, answer: "alipay",
			qrCode: ali + "C4", qrCodes: map[string]any{"alipay": ali + "C4"}},
		{name: "wechat", no: "C5", channel: "wechat", mode: "qr", want: paygate.ChannelWechat, answer: "wechat",
			qrCode: wx + "C5", qrCodes: map[string]any{"wechat": wx + "C5"}},
		{name: "auto", no: "C6", channel: "auto", mode: "qr", want: paygate.ChannelAuto, answer: "auto",
			qrCode: ali + "C6", qrCodes: map[string]any{"alipay": ali + "C6", "wechat": wx + "C6"}},
		{name: "alipay barcode", no: "C7", channel: "alipay", mode: "barcode", authCode: "283456789012345678",
			want: paygate.ChannelAlipay, answer: "alipay", wantPaid: true},
		{name: "wechat barcode", no: "C8", channel: "wechat", mode: "barcode", authCode: "101234567890123456",
			want: paygate.ChannelWechat, answer: "wechat", wantPaid: true},
		{name: "wechat barcode 15", no: "C9", channel: "wechat", mode: "barcode", authCode: "151234567890123456",
			want: paygate.ChannelWechat, answer: "wechat", wantPaid: true},
		{name: "auto barcode of WeChat", no: "C10", channel: "auto", mode: "barcode", authCode: "111234567890123456",
			want: paygate.ChannelAuto, answer: "wechat", wantPaid: true},
		{name: "auto barcode of Alipay", no: "C11", channel: "auto", mode: "barcode", authCode: "283456789012345678",
			want: paygate.ChannelAuto, answer: "alipay", wantPaid: true},
		{name: "auto barcode of another form", no: "C12", channel: "auto", mode: "barcode", authCode: "fp12345678",
			want: paygate.ChannelAuto, answer: "alipay", wantPaid: true},
		// Alipay's rule stays as it was: a code of WeChat's form is not refused.
		{name: "alipay barcode of WeChat's form", no: "C13", mode: "barcode", authCode: "101234567890123456",
			want: paygate.ChannelAlipay, answer: "alipay", wantPaid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := map[string]any{"out_trade_no": tt.no, "subject": "Tea", "total_amount": "1.00", "mode": tt.mode}
			if tt.channel != nil {
				body["channel"] = tt.channel
			}
			if tt.authCode != "" {
				body["auth_code"] = tt.authCode
			}
			b := mustJSON(t, body)
			if tt.extraJSON != "" {
				b = append(b[:len(b)-1], tt.extraJSON+"}"...)
			}
			status, _, answer := f.send(t, req{method: "POST", path: "/api/v1/orders", body: b})
			if status != http.StatusCreated {
				t.Fatalf("status %d: %s", status, answer)
			}
			var got map[string]any
			if err := json.Unmarshal(answer, &got); err != nil {
				t.Fatal(err)
			}
			if got["channel"] != tt.answer || !reflect.DeepEqual(got["qr_code"], tt.qrCode) || !reflect.DeepEqual(got["qr_codes"], tt.qrCodes) {
				t.Fatalf("answer channel %v, qr_code %v, qr_codes %v; want %v, %v, %v",
					got["channel"], got["qr_code"], got["qr_codes"], tt.answer, tt.qrCode, tt.qrCodes)
			}
			if tt.wantPaid != (got["status"] == "paid") {
				t.Fatalf("status %v, want paid %v", got["status"], tt.wantPaid)
			}
			calls := f.orders.Calls()
			sent := calls[len(calls)-1].arg.(paygate.CreateOrder)
			if sent.OutTradeNo != tt.no || sent.Channel != tt.want || sent.AuthCode != tt.authCode {
				t.Fatalf("service got %+v, want channel %q", sent, tt.want)
			}
		})
	}
}

// TestCreateOrderChannelValidation: a channel that is none of the three, or
// a barcode that is not WeChat Pay's on channel wechat, is refused before
// the service is called.
func TestCreateOrderChannelValidation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const badChannel = `channel must be "alipay", "wechat" or "auto"`
	const badWechatCode = `auth_code must be a WeChat Pay payment code on channel "wechat": 18 digits starting with 10 to 15`
	tests := []struct {
		name, channel, mode, authCode, msg string
	}{
		{"unknown", "paypal", "qr", "", badChannel},
		{"upper case", "Alipay", "qr", "", badChannel},
		{"WECHAT", "WECHAT", "qr", "", badChannel},
		{"weixin", "weixin", "qr", "", badChannel},
		{"padded", " alipay", "qr", "", badChannel},
		{"both", "alipay,wechat", "qr", "", badChannel},
		{"unknown on a barcode", "unionpay", "barcode", "283456789012345678", badChannel},
		{"wechat with Alipay's code", "wechat", "barcode", "283456789012345678", badWechatCode},
		{"wechat prefix 16", "wechat", "barcode", "161234567890123456", badWechatCode},
		{"wechat prefix 09", "wechat", "barcode", "091234567890123456", badWechatCode},
		{"wechat 17 digits", "wechat", "barcode", "13006109882800940", badWechatCode},
		{"wechat 19 digits", "wechat", "barcode", "1300610988280094061", badWechatCode},
		{"wechat letter", "wechat", "barcode", "13006109882800940a", badWechatCode},
		{"wechat face code", "wechat", "barcode", "fp12345678", badWechatCode},
		{"auto still checks", "auto", "barcode", "12345-789012345678", "auth_code must be 10 to 32"},
		{"auto short", "auto", "barcode", "123456789", "auth_code must be 10 to 32"},
		{"wechat auth_code in qr", "wechat", "qr", "101234567890123456", "auth_code is only for barcode mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := map[string]any{"out_trade_no": "CV1", "subject": "Tea", "total_amount": "1.00", "mode": tt.mode, "channel": tt.channel}
			if tt.authCode != "" {
				body["auth_code"] = tt.authCode
			}
			status, hdr, b := f.send(t, req{method: "POST", path: "/api/v1/orders", body: mustJSON(t, body)})
			wantError(t, status, hdr, b, http.StatusBadRequest, "INVALID_REQUEST", tt.msg)
		})
	}
	t.Run("not a string", func(t *testing.T) {
		body := []byte(`{"out_trade_no":"CV1","subject":"Tea","total_amount":"1.00","mode":"qr","channel":1}`)
		status, hdr, b := f.send(t, req{method: "POST", path: "/api/v1/orders", body: body})
		wantError(t, status, hdr, b, http.StatusBadRequest, "INVALID_REQUEST", "field channel must be a string")
	})
	if calls := f.orders.Calls(); len(calls) != 0 {
		t.Fatalf("the service was called on invalid input: %v", calls)
	}
}
