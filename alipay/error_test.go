package alipay

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code, sub string
		want      Outcome
	}{
		{"10000", "", OutcomeSuccess},
		{"10003", "", OutcomePaying},
		{"20000", "isp.unknow-error", OutcomeUnknown},
		{"20001", "aop.invalid-auth-token", OutcomeConfig},
		{"40001", "isv.missing-app-id", OutcomeConfig},
		{"40002", "isv.invalid-signature", OutcomeConfig},
		{"40003", "isv.invalid-app-state", OutcomeConfig},
		{"40004", "ACQ.TRADE_NOT_EXIST", OutcomeFailed},
		{"40004", "ACQ.BUYER_BALANCE_NOT_ENOUGH", OutcomeFailed},
		{"40004", "ACQ.SYSTEM_ERROR", OutcomeUnknown},
		{"40004", "AQC.SYSTEM_ERROR", OutcomeUnknown},
		{"40005", "isv.app-call-limited", OutcomeUnknown},
		{"40006", "isv.insufficient-isv-permissions", OutcomeConfig},
		{"", "", OutcomeUnknown},
		{"99999", "", OutcomeUnknown},
	}
	for _, tt := range tests {
		if got := Classify(tt.code, tt.sub); got != tt.want {
			t.Errorf("Classify(%q, %q) = %v; want %v", tt.code, tt.sub, got, tt.want)
		}
	}
}

func TestOutcomeOf(t *testing.T) {
	t.Parallel()
	e := &Error{Outcome: OutcomeFailed, Method: MethodPay, Code: "40004", SubCode: SubAuthCodeInvalid}
	wrapped := fmt.Errorf("create order: %w", e)
	if got := OutcomeOf(wrapped); got != OutcomeFailed {
		t.Errorf("OutcomeOf(wrapped) = %v", got)
	}
	if !IsSubCode(wrapped, SubAuthCodeInvalid) {
		t.Error("IsSubCode(wrapped) = false")
	}
	if OutcomeOf(nil) != OutcomeSuccess || OutcomeOf(errors.New("x")) != OutcomeUnknown {
		t.Error("OutcomeOf(nil / plain error) wrong")
	}
	te := transportError(MethodQuery, context.Canceled)
	if te.Outcome != OutcomeUnknown || !errors.Is(te, context.Canceled) {
		t.Errorf("transportError(Canceled) = %v", te)
	}
}

// TestIsSubCodeOnlyVerified: a sub_code from an answer whose signature did
// not verify, or that was not signed, is never acted on.
func TestIsSubCodeOnlyVerified(t *testing.T) {
	for _, cause := range []error{ErrResponseSignature, errors.New("unsigned response")} {
		e := &Error{Outcome: OutcomeUnknown, Method: MethodClose, Code: "40004", SubCode: SubTradeNotExist, Err: cause}
		if IsSubCode(e, SubTradeNotExist) {
			t.Errorf("IsSubCode believed %s from an answer that failed with %v", SubTradeNotExist, cause)
		}
	}
	if !IsSubCode(&Error{Outcome: OutcomeFailed, Method: MethodClose, Code: "40004", SubCode: SubTradeNotExist}, SubTradeNotExist) {
		t.Error("IsSubCode refused a verified answer")
	}
}
