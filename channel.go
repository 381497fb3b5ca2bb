package paygate

// Channel is the payment channel an order is taken on: the wallet the buyer
// pays with.
type Channel string

// Channels. An order is created on one of them; ChannelAuto offers it on
// both at once and is decided by the first payment.
const (
	// ChannelAlipay is Alipay (支付宝), the default: an order that names no
	// channel, or was stored before orders had one, is an Alipay order.
	ChannelAlipay Channel = "alipay"
	// ChannelWechat is WeChat Pay (微信支付).
	ChannelWechat Channel = "wechat"
	// ChannelAuto offers the order on both channels (two QR codes, or a
	// barcode routed by its prefix). The order keeps "auto" until a payment
	// on one channel decides it; from then on it names that channel.
	ChannelAuto Channel = "auto"
)

// Valid reports whether c is one of the three channels.
func (c Channel) Valid() bool {
	switch c {
	case ChannelAlipay, ChannelWechat, ChannelAuto:
		return true
	}
	return false
}

// OrDefault is c, or ChannelAlipay when c is empty (a request that named
// no channel, or an order not yet stored).
func (c Channel) OrDefault() Channel {
	if c == "" {
		return ChannelAlipay
	}
	return c
}

// QRCodes returns o's codes by channel: Alipay's qr_code and WeChat's
// code_url, those that are set; nil when neither is.
func (o *Order) QRCodes() map[Channel]string {
	if o.QRCode == "" && o.WechatCode == "" {
		return nil
	}
	codes := make(map[Channel]string, 2)
	if o.QRCode != "" {
		codes[ChannelAlipay] = o.QRCode
	}
	if o.WechatCode != "" {
		codes[ChannelWechat] = o.WechatCode
	}
	return codes
}

// ChannelQRCode is the code of o's own channel: WeChat's code_url for a
// wechat order, Alipay's qr_code for an alipay or auto one (an auto order
// shows both in QRCodes).
func (o *Order) ChannelQRCode() string {
	if o.Channel == ChannelWechat {
		return o.WechatCode
	}
	return o.QRCode
}

// IsWechatAuthCode reports whether code has the form of a WeChat Pay
// payment code (付款码, the barcode a buyer shows): 18 digits starting with
// 10 to 15 (docs/wechatpay-protocol.md, 8.4). Alipay's codes start with 25
// to 30, so the prefix tells which wallet a scanned code belongs to.
func IsWechatAuthCode(code string) bool {
	if len(code) != 18 || code[0] != '1' || code[1] < '0' || code[1] > '5' {
		return false
	}
	for i := 2; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}
