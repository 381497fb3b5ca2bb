// Package paygate is the domain of the payment gateway: money, orders, refunds,
// merchants, events and the rules that bind them. It imports only the standard
// library; every adapter (stores, the Alipay channel, HTTP) depends on it.
package paygate

import (
	"errors"
	"fmt"
	"strconv"
)

// Money is an amount in fen (1/100 yuan). It is never a float: yuan strings
// exist only at the edges and are converted with integer arithmetic.
type Money int64

// MaxAmount is the largest amount a single Alipay trade may carry, 100,000,000.00 yuan.
const MaxAmount Money = 100_000_000_00

// ErrAmountSyntax is returned by ParseYuan for text that is not a yuan amount.
var ErrAmountSyntax = errors.New("amount must be yuan with at most two decimals, like 99.99")

// ParseYuan parses a yuan amount with at most two decimals ("99.99", "1.5",
// "100", "-3.00") into fen. It accepts an optional leading minus (Alipay's bills
// carry negative refund rows), no plus sign, no exponent, no spaces, no leading
// zeros beyond a single "0", and at most 12 integer digits so the result can
// never overflow. Range checks (such as 0.01 to 100000000.00) are the caller's.
func ParseYuan(s string) (Money, error) {
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	intPart, frac := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			intPart, frac = s[:i], s[i+1:]
			if frac == "" {
				return 0, ErrAmountSyntax
			}
			break
		}
	}
	if intPart == "" || len(intPart) > 12 || len(frac) > 2 || (len(intPart) > 1 && intPart[0] == '0') {
		return 0, ErrAmountSyntax
	}
	if !allDigits(intPart) || !allDigits(frac) {
		return 0, ErrAmountSyntax
	}
	yuan, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return 0, ErrAmountSyntax
	}
	var fen int64
	switch len(frac) {
	case 1:
		fen = int64(frac[0]-'0') * 10
	case 2:
		fen = int64(frac[0]-'0')*10 + int64(frac[1]-'0')
	}
	m := Money(yuan*100 + fen)
	if neg {
		m = -m
	}
	return m, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Yuan formats m as yuan with exactly two decimals, the form Alipay sends and
// expects ("0.01", "2650.00", "-3.00").
func (m Money) Yuan() string {
	sign := ""
	v := int64(m)
	if v < 0 {
		sign = "-"
		v = -v // MinInt64 is far outside any amount this system accepts
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// String is Yuan, so amounts print readably in logs.
func (m Money) String() string { return m.Yuan() }

// MarshalJSON writes m as a yuan string ("99.99"): amounts travel as strings
// in the merchant API and on Alipay's wire alike.
func (m Money) MarshalJSON() ([]byte, error) {
	return []byte(`"` + m.Yuan() + `"`), nil
}

// UnmarshalJSON reads a yuan string. An empty string reads as zero, because
// Alipay leaves amount fields empty on some failures; callers that require an
// amount validate it themselves with a message that says what is wrong.
func (m *Money) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return ErrAmountSyntax
	}
	s := string(b[1 : len(b)-1])
	if s == "" {
		*m = 0
		return nil
	}
	v, err := ParseYuan(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}
