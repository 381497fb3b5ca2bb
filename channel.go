package paygate

// Channel names a payment channel. (Temporary: replaced by the store branch.)
type Channel string

// The channels.
const (
	ChannelAlipay Channel = "alipay"
	ChannelWechat Channel = "wechat"
	ChannelAuto   Channel = "auto"
)
