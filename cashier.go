package paygate

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
)

// CashierStore finds an order by its cashier token, for the buyer's page.
type CashierStore interface {
	// OrderByCashierToken returns the order whose CashierToken is token;
	// ENotFound if none (an empty token finds none).
	OrderByCashierToken(ctx context.Context, token string) (*Order, error)
}

// cashierTokenBytes is the randomness of a cashier token: 128 bits.
const cashierTokenBytes = 16

// CashierTokenLen is the length of every token NewCashierToken makes: 16
// bytes in unpadded base64.
const CashierTokenLen = 22

// NewCashierToken returns a fresh cashier token: 128 bits from crypto/rand,
// base64url without padding (22 characters of [A-Za-z0-9_-]).
func NewCashierToken() (string, error) {
	b := make([]byte, cashierTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", Errorf(EInternal, "cashier token: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// WellFormedCashierToken reports whether s has the shape NewCashierToken
// gives, so that anything else is refused before the store is asked.
func WellFormedCashierToken(s string) bool {
	if len(s) != CashierTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// CashierURL is the order's cashier page under the node's public URL
// (publicURL + "/pay/" + token), or "" when there is none: a barcode order,
// an order without a token, or no public URL to build it on.
func (o *Order) CashierURL(publicURL string) string {
	if o.Mode != ModeQR || o.CashierToken == "" || publicURL == "" {
		return ""
	}
	return strings.TrimRight(publicURL, "/") + "/pay/" + o.CashierToken
}
