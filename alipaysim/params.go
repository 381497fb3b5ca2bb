package alipaysim

import (
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
)

// Field rules of §3: amounts, out_trade_no, lengths and relative expiries.
var (
	amountPattern     = regexp.MustCompile(`^\d{1,9}(\.\d{1,2})?$`)
	outTradeNoPattern = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)
	expressPattern    = regexp.MustCompile(`^([1-9]\d{0,5})([mhd])$`)
)

// params reads biz_content fields and keeps the first problem as a 40004
// ACQ.INVALID_PARAMETER node whose sub_msg names the field.
type params struct {
	b   biz
	bad *node
}

func (p *params) fail(msg string) {
	if p.bad == nil {
		p.bad = business(alipay.SubInvalidParameter, msg)
	}
}

// text reads a string field of at most maxRunes characters.
func (p *params) text(name string, required bool, maxRunes int) string {
	v, ok := p.b.str(name)
	if !ok {
		p.fail("参数" + name + "格式错误，应为字符串")
		return ""
	}
	if v == "" {
		if required {
			p.fail("缺少必选参数" + name)
		}
		return ""
	}
	if utf8.RuneCountInString(v) > maxRunes {
		p.fail("参数" + name + "长度不能超过" + strconv.Itoa(maxRunes))
		return ""
	}
	return v
}

// id reads an identifier such as out_request_no: printable ASCII without
// spaces, commas or quotes, so it survives the bill's CSV unchanged.
func (p *params) id(name string, required bool, maxLen int) string {
	v := p.text(name, required, maxLen)
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c > '~' || c == ',' || c == '"' {
			p.fail("参数" + name + "格式错误，仅支持可见ASCII字符（不含空格、逗号、引号）")
			return ""
		}
	}
	return v
}

// outTradeNo reads out_trade_no: 1 to 64 letters, digits or underscores.
func (p *params) outTradeNo(required bool) string {
	v := p.text("out_trade_no", required, 64)
	if v != "" && !outTradeNoPattern.MatchString(v) {
		p.fail("参数out_trade_no格式错误，仅支持字母、数字、下划线")
		return ""
	}
	return v
}

// amount reads a yuan amount with at most two decimals in [0.01, 100000000].
func (p *params) amount(name string) paygate.Money {
	v := p.text(name, true, 16)
	if v == "" {
		return 0
	}
	m, err := paygate.ParseYuan(v)
	if !amountPattern.MatchString(v) || err != nil || m < 1 || m > paygate.MaxAmount {
		p.fail("参数" + name + "金额格式错误，取值范围[0.01,100000000]，最多两位小数")
		return 0
	}
	return m
}

// express reads a relative expiry such as timeout_express: 1m to 15d in
// whole minutes, hours or days, or "1c" (until midnight, China time).
func (p *params) express(name string) string {
	v := p.text(name, false, 8)
	if v != "" && !validExpress(v) {
		p.fail("参数" + name + "格式错误，取值范围1m～15d，单位m、h、d，或1c")
		return ""
	}
	return v
}

// ref reads the trade reference: out_trade_no or trade_no (trade_no wins).
func (p *params) ref() (outTradeNo, tradeNo string) {
	outTradeNo = p.outTradeNo(false)
	tradeNo = p.text("trade_no", false, 64)
	if outTradeNo == "" && tradeNo == "" && p.bad == nil {
		p.fail("缺少必选参数out_trade_no或trade_no，不能同时为空")
	}
	return outTradeNo, tradeNo
}

// validExpress reports whether s is a valid relative expiry.
func validExpress(s string) bool {
	if s == "1c" {
		return true
	}
	m := expressPattern.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	n, _ := strconv.Atoi(m[1])
	d := expressUnit(m[2]) * time.Duration(n)
	return d >= time.Minute && d <= 15*24*time.Hour
}

func expressUnit(u string) time.Duration {
	switch u {
	case "h":
		return time.Hour
	case "d":
		return 24 * time.Hour
	}
	return time.Minute
}

// deadline is from plus the expiry s (validated), or from plus def when s is
// empty. "1c" ends at the next midnight in China time.
func deadline(from time.Time, s string, def time.Duration) time.Time {
	if s == "" {
		return from.Add(def)
	}
	if s == "1c" {
		c := from.In(alipay.ChinaTime)
		return time.Date(c.Year(), c.Month(), c.Day()+1, 0, 0, 0, 0, alipay.ChinaTime)
	}
	m := expressPattern.FindStringSubmatch(s)
	n, _ := strconv.Atoi(m[1])
	return from.Add(expressUnit(m[2]) * time.Duration(n))
}
