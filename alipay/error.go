package alipay

import (
	"context"
	"errors"
	"fmt"
)

// Outcome is what a call to Alipay means for the caller's state (§2.4).
type Outcome int

// The outcomes. Anything ambiguous is OutcomeUnknown, never OutcomeFailed: an Unknown pay
// may have taken the buyer's money and must be queried.
const (
	// OutcomeSuccess: the call worked (code 10000); read the business fields.
	OutcomeSuccess Outcome = iota + 1
	// OutcomePaying: the buyer must confirm on the phone (10003, pay only); poll query.
	OutcomePaying
	// OutcomeFailed: a definite business failure (40004 with an ACQ.* sub_code other
	// than ACQ.SYSTEM_ERROR); nothing happened.
	OutcomeFailed
	// OutcomeUnknown: the result cannot be known (20000, ACQ.SYSTEM_ERROR, a timeout,
	// a 5xx, an unparseable or unsigned or wrongly signed response); query.
	OutcomeUnknown
	// OutcomeConfig: a configuration or programming error (40001, 40002, 40003,
	// 40006, 20001); retrying the same call will not help.
	OutcomeConfig
)

func (o Outcome) String() string {
	switch o {
	case OutcomeSuccess:
		return "success"
	case OutcomePaying:
		return "paying"
	case OutcomeFailed:
		return "failed"
	case OutcomeUnknown:
		return "unknown"
	case OutcomeConfig:
		return "config"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Result codes of §2.4.
const (
	CodeSuccess            = "10000"
	CodePaying             = "10003"
	CodeUnknown            = "20000"
	CodeInsufficientToken  = "20001"
	CodeMissingArgument    = "40001"
	CodeInvalidArgument    = "40002"
	CodeInsufficientCond   = "40003"
	CodeBusinessFailed     = "40004"
	CodeCallLimited        = "40005"
	CodePermissionDenied   = "40006"
	SubCodeSystemError     = "ACQ.SYSTEM_ERROR"
	SubCodeSystemErrorTypo = "AQC.SYSTEM_ERROR" // sic: documented for cancel
)

// Classify maps a response's code and sub_code to an Outcome.
func Classify(code, subCode string) Outcome {
	switch code {
	case CodeSuccess:
		return OutcomeSuccess
	case CodePaying:
		return OutcomePaying
	case CodeBusinessFailed:
		if subCode == SubCodeSystemError || subCode == SubCodeSystemErrorTypo {
			return OutcomeUnknown
		}
		return OutcomeFailed
	case CodeInsufficientToken, CodeMissingArgument, CodeInvalidArgument,
		CodeInsufficientCond, CodePermissionDenied:
		return OutcomeConfig
	}
	// 20000, 40005 (rate limited: whether it ran is not promised) and any code
	// this client does not know.
	return OutcomeUnknown
}

// Error is a call that did not succeed. It keeps everything Alipay said so
// that logs and support tickets have the code, sub_code and trace id.
type Error struct {
	Outcome Outcome // OutcomeFailed, OutcomeUnknown or OutcomeConfig
	Method  string  // e.g. alipay.trade.pay
	Code    string  // e.g. 40004; empty when no response was read
	Msg     string
	SubCode string // e.g. ACQ.TRADE_NOT_EXIST
	SubMsg  string
	TraceID string // the trace_id response header, for Alipay support
	Err     error  // the transport or verification cause, if any
}

func (e *Error) Error() string {
	s := fmt.Sprintf("alipay %s: %s", e.Method, e.Outcome)
	if e.Code != "" {
		s += fmt.Sprintf(": code=%s msg=%q", e.Code, e.Msg)
	}
	if e.SubCode != "" {
		s += fmt.Sprintf(" sub_code=%s sub_msg=%q", e.SubCode, e.SubMsg)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.TraceID != "" {
		s += " trace_id=" + e.TraceID
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// OutcomeOf classifies the error a client method returned: nil is Success; an
// *Error carries its own outcome; anything else (which the client never
// returns, but a caller's wrapper might) is Unknown.
func OutcomeOf(err error) Outcome {
	if err == nil {
		return OutcomeSuccess
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Outcome
	}
	return OutcomeUnknown
}

// IsSubCode reports whether err is an Alipay error with the given sub_code
// from an answer whose signature verified. A sub_code read from an answer
// that did not verify (or was not signed) is only shown in the error's
// text: nothing may act on it.
func IsSubCode(err error, subCode string) bool {
	var e *Error
	return errors.As(err, &e) && e.Err == nil && e.SubCode == subCode
}

// Result is the common head of every response node.
type Result struct {
	Code    string `json:"code"`
	Msg     string `json:"msg"`
	SubCode string `json:"sub_code,omitempty"`
	SubMsg  string `json:"sub_msg,omitempty"`
}

// Outcome classifies r.
func (r Result) Outcome() Outcome { return Classify(r.Code, r.SubCode) }

// transportError is an OutcomeUnknown: the request may or may not have reached
// Alipay. A cancelled context is reported as such so callers do not retry.
func transportError(method string, err error) *Error {
	if errors.Is(err, context.Canceled) {
		err = fmt.Errorf("cancelled before the answer came: %w", err)
	} else if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within the deadline: %w", err)
	}
	return &Error{Outcome: OutcomeUnknown, Method: method, Err: err}
}
