package paygate_test

import (
	"strings"
	"testing"

	"github.com/paygate/paygate"
)

func TestCheckWebhookURL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ url, err string }{
		{"https://shop.example/hooks/paygate", ""},
		{"https://1.shop.example/h", ""},
		{"https://shop.example:8443/h?a=b", ""},
		{"https://[2001:db8::1]/h", ""},
		{"http://127.0.0.1:8080/h", ""},                             // where it may connect is decided when connecting
		{"https://shop.123/h", "is a number but not an IP address"}, // as browsers read it
		{"ftp://shop.example/h", "absolute http or https URL"},
		{"/hooks", "absolute http or https URL"},
		{"https:shop.example", "absolute http or https URL"},
		{"https://", "absolute http or https URL"},
		{"https://user:pw@shop.example/h", "user information"},
		{"https://user@shop.example/h", "user information"},
		{"http://0x7f000001/h", "is a number but not an IP address"},
		{"http://0X7F.1/h", "is a number but not an IP address"},
		{"http://2130706433/h", "is a number but not an IP address"},
		{"http://127.1/h", "is a number but not an IP address"},
		{"http://0177.0.0.1/h", "is a number but not an IP address"},
		{"http://127.0.0.1./h", "is a number but not an IP address"},
		{"http://shop.0x10/h", "is a number but not an IP address"},
	} {
		err := paygate.CheckWebhookURL(c.url)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("CheckWebhookURL(%q) = %v, want nil", c.url, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || paygate.ErrorCode(err) != paygate.EInvalid):
			t.Errorf("CheckWebhookURL(%q) = %v, want %s %q", c.url, err, paygate.EInvalid, c.err)
		}
	}
}
