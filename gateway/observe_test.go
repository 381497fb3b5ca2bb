package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/gateway"
)

// TestCallOutcome: every kind of channel error is counted under the outcome
// an operator reads it as.
func TestCallOutcome(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, gateway.CallSuccess},
		{"business refusal", gateway.AlipayError(&alipay.Error{Outcome: alipay.OutcomeFailed, Code: "40004", SubCode: "ACQ.TRADE_HAS_CLOSE"}), gateway.CallFailed},
		{"20000", gateway.AlipayError(&alipay.Error{Outcome: alipay.OutcomeUnknown, Code: "20000"}), gateway.CallUnknown},
		{"timeout", gateway.AlipayError(&alipay.Error{Outcome: alipay.OutcomeUnknown, Err: fmt.Errorf("no answer: %w", context.DeadlineExceeded)}), gateway.CallUnknown},
		{"transport", gateway.AlipayError(&alipay.Error{Outcome: alipay.OutcomeUnknown, Err: errors.New("connection refused")}), gateway.CallError},
		{"config", gateway.AlipayError(&alipay.Error{Outcome: alipay.OutcomeConfig, Code: "40002"}), gateway.CallError},
		{"breaker open", fmt.Errorf("pay: %w: %w", gateway.ErrNotSent, paygate.Errorf(paygate.EChannelUnavailable, "open")), gateway.CallError},
		{"wrapped refusal", fmt.Errorf("refund: %w", gateway.AlipayError(&alipay.Error{Outcome: alipay.OutcomeFailed, Code: "40004"})), gateway.CallFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gateway.CallOutcome(tt.err); got != tt.want {
				t.Errorf("CallOutcome(%v) = %s, want %s", tt.err, got, tt.want)
			}
		})
	}
}
