package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/paygate/paygate/client"
)

// authFailedMessage is the one message of every 401 (contract.md).
const authFailedMessage = "authentication failed: check X-Access-Key, X-Timestamp, X-Nonce and X-Signature against the signing rules"

// apiMessage is an error answer's message.
func apiMessage(t *testing.T, b []byte) string {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("not a JSON error: %s", b)
	}
	return e.Error.Message
}

// signHeaders sets the four authentication headers of the test merchant
// for a request without a query.
func signHeaders(h http.Header, now time.Time, method, path string, body []byte) {
	ts, nonce := strconv.FormatInt(now.UnixMilli(), 10), randomNonce()
	h.Set("X-Access-Key", accessKey)
	h.Set("X-Timestamp", ts)
	h.Set("X-Nonce", nonce)
	h.Set("X-Signature", client.Sign(secretKey, method, path, nil, accessKey, ts, nonce, body))
}
