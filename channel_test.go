package paygate

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestChannelValid(t *testing.T) {
	t.Parallel()
	for c, want := range map[Channel]bool{
		ChannelAlipay: true, ChannelWechat: true, ChannelAuto: true,
		"": false, "Alipay": false, "weixin": false, "both": false,
	} {
		if got := c.Valid(); got != want {
			t.Errorf("Channel(%q).Valid() = %v, want %v", c, got, want)
		}
	}
	if got := Channel("").OrDefault(); got != ChannelAlipay {
		t.Errorf(`"".OrDefault() = %q, want alipay`, got)
	}
	if got := ChannelWechat.OrDefault(); got != ChannelWechat {
		t.Errorf("wechat.OrDefault() = %q", got)
	}
}

// TestOrderViewChannel: the order JSON names the channel (alipay for an
// order stored before channels), shows the channel's own code as qr_code
// and every code under qr_codes, in QR mode only.
func TestOrderViewChannel(t *testing.T) {
	t.Parallel()
	const ali, wx = "https://qr.alipay.com/bax01", "weixin://wxpay/bizpayurl?pr=abc"
	tests := []struct {
		name  string
		order Order
		want  map[string]any // the JSON's channel, qr_code and qr_codes; absent keys are left out
	}{
		{"before channels", Order{Mode: ModeQR, QRCode: ali},
			map[string]any{"channel": "alipay", "qr_code": ali, "qr_codes": map[string]any{"alipay": ali}}},
		{"alipay", Order{Mode: ModeQR, Channel: ChannelAlipay, QRCode: ali},
			map[string]any{"channel": "alipay", "qr_code": ali, "qr_codes": map[string]any{"alipay": ali}}},
		{"wechat", Order{Mode: ModeQR, Channel: ChannelWechat, WechatCode: wx},
			map[string]any{"channel": "wechat", "qr_code": wx, "qr_codes": map[string]any{"wechat": wx}}},
		{"auto", Order{Mode: ModeQR, Channel: ChannelAuto, QRCode: ali, WechatCode: wx},
			map[string]any{"channel": "auto", "qr_code": ali, "qr_codes": map[string]any{"alipay": ali, "wechat": wx}}},
		{"auto paid on wechat", Order{Mode: ModeQR, Channel: ChannelWechat, QRCode: ali, WechatCode: wx},
			map[string]any{"channel": "wechat", "qr_code": wx, "qr_codes": map[string]any{"alipay": ali, "wechat": wx}}},
		{"auto, WeChat's code only", Order{Mode: ModeQR, Channel: ChannelAuto, WechatCode: wx},
			map[string]any{"channel": "auto", "qr_codes": map[string]any{"wechat": wx}}},
		{"qr without a code yet", Order{Mode: ModeQR, Channel: ChannelWechat},
			map[string]any{"channel": "wechat"}},
		{"barcode", Order{Mode: ModeBarcode, Channel: ChannelWechat, QRCode: ali, WechatCode: wx},
			map[string]any{"channel": "wechat"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.order.View())
			if err != nil {
				t.Fatal(err)
			}
			var all map[string]any
			if err := json.Unmarshal(b, &all); err != nil {
				t.Fatal(err)
			}
			got := map[string]any{}
			for _, k := range []string{"channel", "qr_code", "qr_codes"} {
				if v, ok := all[k]; ok {
					got[k] = v
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("view %s\ngot  %v\nwant %v", b, got, tt.want)
			}
		})
	}
}

func TestOrderQRCodes(t *testing.T) {
	t.Parallel()
	if got := (&Order{}).QRCodes(); got != nil {
		t.Errorf("no codes: %v, want nil", got)
	}
	o := &Order{QRCode: "a", WechatCode: "w"}
	if got, want := o.QRCodes(), map[Channel]string{ChannelAlipay: "a", ChannelWechat: "w"}; !reflect.DeepEqual(got, want) {
		t.Errorf("both codes: %v, want %v", got, want)
	}
}

func TestIsWechatAuthCode(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]bool{
		"100000000000000000": true, "130061098828009406": true, "159999999999999999": true,
		"160000000000000000":  false, // prefix 16
		"090000000000000000":  false, // prefix 09
		"281234567890123456":  false, // Alipay's
		"13006109882800940":   false, // 17 digits
		"1300610988280094061": false, // 19 digits
		"13006109882800940a":  false,
		"1a0061098828009406":  false,
		"":                    false,
	} {
		if got := IsWechatAuthCode(code); got != want {
			t.Errorf("IsWechatAuthCode(%q) = %v, want %v", code, got, want)
		}
	}
}
