package alipaysim

import (
	"crypto/rand"
	"encoding/hex"
	"hash/fnv"
	"math/big"
	"strings"
	"time"

	"github.com/paygate/paygate/alipay"
)

// Identifiers follow the shapes of §8.3: trade_no is 28 digits
// (yyyyMMdd + "22001" + 15 digits), user ids are "2088" + 12 digits, logon ids
// are masked phone numbers. Random parts come from crypto/rand so codes and
// tokens cannot be guessed.

// randomDigits returns n random decimal digits.
func randomDigits(n int) string {
	var b strings.Builder
	b.Grow(n)
	max := big.NewInt(10)
	for range n {
		d, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}

// randomAlnum returns n random characters of [0-9a-z].
func randomAlnum(n int) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	for i := range buf {
		// 256 = 7*36 + 4: the bias is negligible for codes that only need
		// to be unguessable, not uniform.
		buf[i] = alphabet[int(buf[i])%len(alphabet)]
	}
	return string(buf)
}

// randomHex returns n random bytes as lower-case hex.
func randomHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)
}

// newTradeNo makes a trade_no for a trade created at t.
func newTradeNo(t time.Time) string {
	return t.In(alipay.ChinaTime).Format("20060102") + "22001" + randomDigits(15)
}

// newQRCode makes an unguessable precreate code like Alipay's bax0… links.
func newQRCode() string { return "https://qr.alipay.com/bax0" + randomAlnum(20) }

// newNotifyID makes a 34-digit, date-prefixed notify_id (§5.2).
func newNotifyID(t time.Time) string {
	return t.In(alipay.ChinaTime).Format("20060102") + "01222" + randomDigits(21)
}

// newTraceID makes a trace_id header value.
func newTraceID() string { return randomHex(15) }

// newBuyerID makes a random buyer user id.
func newBuyerID() string { return "2088" + randomDigits(12) }

// digitsFrom derives n decimal digits from s deterministically.
func digitsFrom(s string, n int) string {
	var b strings.Builder
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	v := h.Sum64()
	for b.Len() < n {
		if v == 0 {
			_, _ = h.Write([]byte{0})
			v = h.Sum64()
		}
		b.WriteByte(byte('0' + v%10))
		v /= 10
	}
	return b.String()
}

// sellerIDFor is the default seller (partner) id of an app: stable across
// restarts so bills and notifications keep naming the same merchant.
func sellerIDFor(appID string) string { return "2088" + digitsFrom("seller:"+appID, 12) }

// DefaultSellerID is the seller id the simulator gives an app registered
// without one: what a gateway in front of it sets as alipay.seller_id.
func DefaultSellerID(appID string) string { return sellerIDFor(appID) }

// logonIDFor is the masked logon id (a phone number) shown for a buyer.
func logonIDFor(buyerID string) string {
	phone := "1" + digitsFrom("phone:"+buyerID, 10)
	return phone[:3] + "****" + phone[7:]
}

// isUserID reports whether s is a 16-digit Alipay user id starting 2088.
func isUserID(s string) bool {
	if len(s) != 16 || !strings.HasPrefix(s, "2088") {
		return false
	}
	return allDigits(s)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
