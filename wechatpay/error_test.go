package wechatpay_test

import (
	"testing"

	"github.com/paygate/paygate/wechatpay"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status int
		code   string
		want   wechatpay.Outcome
	}{
		{200, "", wechatpay.OutcomeSuccess},
		{204, "", wechatpay.OutcomeSuccess},
		{202, "", wechatpay.OutcomeSuccess},
		{500, "SYSTEM_ERROR", wechatpay.OutcomeUnknown},
		{500, "PARAM_ERROR", wechatpay.OutcomeUnknown}, // any 5xx
		{502, "SERVICE_UNAVAILABLE", wechatpay.OutcomeUnknown},
		{503, "", wechatpay.OutcomeUnknown},
		{429, "RATELIMIT_EXCEEDED", wechatpay.OutcomeUnknown},
		{429, "FREQUENCY_LIMITED", wechatpay.OutcomeUnknown},
		{401, "SIGN_ERROR", wechatpay.OutcomeConfig},
		{401, "", wechatpay.OutcomeConfig},
		{403, "NO_AUTH", wechatpay.OutcomeConfig},
		{400, "PARAM_ERROR", wechatpay.OutcomeFailed},
		{400, "INVALID_REQUEST", wechatpay.OutcomeFailed},
		{400, "ORDER_CLOSED", wechatpay.OutcomeFailed},
		{400, "ORDERPAID", wechatpay.OutcomeUnknown}, // paid, not failed: query
		{400, "ORDER_PAID", wechatpay.OutcomeUnknown},
		{400, "OUT_TRADE_NO_USED", wechatpay.OutcomeUnknown},
		{400, "SYSTEM_ERROR", wechatpay.OutcomeUnknown},
		{400, "BANK_ERROR", wechatpay.OutcomeUnknown},
		{400, "USERPAYING", wechatpay.OutcomePaying},
		{400, "STATEMENT_CREATING", wechatpay.OutcomeUnknown},
		{400, "NO_STATEMENT_EXIST", wechatpay.OutcomeFailed},
		{404, "ORDER_NOT_EXIST", wechatpay.OutcomeFailed},
		{404, "RESOURCE_NOT_EXISTS", wechatpay.OutcomeFailed},
		{403, "NOT_ENOUGH", wechatpay.OutcomeFailed},
		{403, "TRADE_ERROR", wechatpay.OutcomeFailed},
		{403, "RULE_LIMIT", wechatpay.OutcomeFailed},
		{403, "USER_ACCOUNT_ABNORMAL", wechatpay.OutcomeFailed},
		{400, "AUTHCODEEXPIRE", wechatpay.OutcomeFailed},
		{400, "MCH_NOT_EXISTS", wechatpay.OutcomeConfig},
		{400, "SOMETHING_NEW", wechatpay.OutcomeUnknown}, // a code this client does not know
		{404, "", wechatpay.OutcomeUnknown},              // no code: not WeChat Pay's API layer
		{302, "", wechatpay.OutcomeUnknown},
	}
	for _, c := range cases {
		if got := wechatpay.Classify(c.status, c.code); got != c.want {
			t.Errorf("Classify(%d, %q) = %s, want %s", c.status, c.code, got, c.want)
		}
	}
}
