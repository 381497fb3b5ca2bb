package wechatpay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Outcome is what a call to WeChat Pay means for the caller's state (§9).
type Outcome int

// The outcomes. Anything ambiguous is OutcomeUnknown, never OutcomeFailed:
// an unknown prepay, codepay or refund may have happened and must be queried.
const (
	// OutcomeSuccess: the call worked and its verified answer says so.
	OutcomeSuccess Outcome = iota + 1
	// OutcomePaying: a codepay whose buyer is entering a password
	// (USERPAYING); poll the query, then reverse (§8.5).
	OutcomePaying
	// OutcomeFailed: a definite failure (PARAM_ERROR, INVALID_REQUEST,
	// ORDER_CLOSED, ORDER_NOT_EXIST, NOT_ENOUGH, …); nothing happened, or the
	// thing does not exist.
	OutcomeFailed
	// OutcomeUnknown: the result cannot be known (a transport error or
	// timeout, a 5xx, SYSTEM_ERROR, a rate limit, an answer whose signature
	// did not verify or that did not parse, a code this client does not
	// know); query.
	OutcomeUnknown
	// OutcomeConfig: the request was refused before any business logic
	// (SIGN_ERROR, NO_AUTH, an unknown merchant); retrying will not help.
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

// Error codes this client classifies (§1.3, §4, §5, §8, §9).
const (
	CodeParamError          = "PARAM_ERROR"
	CodeInvalidRequest      = "INVALID_REQUEST"
	CodeSignError           = "SIGN_ERROR"
	CodeSystemError         = "SYSTEM_ERROR"
	CodeServiceUnavailable  = "SERVICE_UNAVAILABLE"
	CodeNoAuth              = "NO_AUTH"
	CodeOrderNotExist       = "ORDER_NOT_EXIST"
	CodeResourceNotExists   = "RESOURCE_NOT_EXISTS"
	CodeRateLimitExceeded   = "RATELIMIT_EXCEEDED"
	CodeFrequencyLimited    = "FREQUENCY_LIMITED"
	CodeOrderClosed         = "ORDER_CLOSED"
	CodeOrderPaid           = "ORDERPAID"
	CodeOrderPaidV3         = "ORDER_PAID"
	CodeOutTradeNoUsed      = "OUT_TRADE_NO_USED"
	CodeOrderReversed       = "ORDER_REVERSED"
	CodeNotEnough           = "NOT_ENOUGH"
	CodeTradeError          = "TRADE_ERROR"
	CodeRuleLimit           = "RULE_LIMIT"
	CodeUserAccountAbnormal = "USER_ACCOUNT_ABNORMAL"
	CodeMchNotExists        = "MCH_NOT_EXISTS"
	CodeAppIDMchIDNotMatch  = "APPID_MCHID_NOT_MATCH"
	CodeBankError           = "BANK_ERROR"
	CodeUserPaying          = "USERPAYING"
	CodeAuthCodeExpire      = "AUTHCODEEXPIRE"
	CodeAuthCodeInvalid     = "AUTH_CODE_INVALID"
	CodeStatementCreating   = "STATEMENT_CREATING"
	CodeNoStatementExist    = "NO_STATEMENT_EXIST"
)

// codeOutcomes maps the codes whose meaning does not depend on the status.
// ORDERPAID and OUT_TRADE_NO_USED say the order exists, perhaps paid: they
// are no failure, the caller queries to learn which (§9). v3 codepay's
// business codes are UNCONFIRMED (§8.2); the v2 reasons the fact sheet maps
// are classified as the simulator will send them.
var codeOutcomes = map[string]Outcome{
	CodeParamError: OutcomeFailed, CodeInvalidRequest: OutcomeFailed,
	CodeOrderClosed: OutcomeFailed, CodeOrderReversed: OutcomeFailed,
	CodeOrderNotExist: OutcomeFailed, CodeResourceNotExists: OutcomeFailed,
	CodeNotEnough: OutcomeFailed, CodeTradeError: OutcomeFailed, CodeRuleLimit: OutcomeFailed,
	CodeUserAccountAbnormal: OutcomeFailed, CodeAuthCodeExpire: OutcomeFailed,
	CodeAuthCodeInvalid: OutcomeFailed, CodeNoStatementExist: OutcomeFailed,
	CodeSignError: OutcomeConfig, CodeNoAuth: OutcomeConfig,
	CodeMchNotExists: OutcomeConfig, CodeAppIDMchIDNotMatch: OutcomeConfig,
	CodeSystemError: OutcomeUnknown, CodeServiceUnavailable: OutcomeUnknown,
	CodeBankError: OutcomeUnknown, CodeRateLimitExceeded: OutcomeUnknown,
	CodeFrequencyLimited: OutcomeUnknown, CodeOrderPaid: OutcomeUnknown,
	CodeOrderPaidV3: OutcomeUnknown, CodeOutTradeNoUsed: OutcomeUnknown,
	CodeStatementCreating: OutcomeUnknown, CodeUserPaying: OutcomePaying,
}

// Classify maps an error answer's HTTP status and code to an Outcome (§9):
// any 5xx and 429 are unknown whatever the code (a rate limit was not
// accepted, but retrying the same request or querying is the safe way on);
// 401 is config; otherwise the code decides, and a code this client does
// not know is unknown. A 2xx is success: its body decides the rest.
func Classify(status int, code string) Outcome {
	switch {
	case status >= 200 && status < 300:
		return OutcomeSuccess
	case status >= 500, status == http.StatusTooManyRequests:
		return OutcomeUnknown
	case status == http.StatusUnauthorized:
		return OutcomeConfig
	case status < 400:
		return OutcomeUnknown // 1xx, 3xx: not an answer this API gives
	}
	if o, ok := codeOutcomes[code]; ok {
		return o
	}
	return OutcomeUnknown
}

// Error is a call that did not succeed. It keeps what WeChat Pay said, so
// that logs and support tickets have the code and Request-ID; it never holds
// a key, a signature or an Authorization header.
type Error struct {
	Outcome   Outcome         // OutcomeFailed, OutcomeUnknown, OutcomeConfig (or OutcomePaying for a USERPAYING code)
	Op        string          // e.g. "POST /v3/pay/transactions/native"
	Status    int             // HTTP status; 0 when no answer was read
	Code      string          // e.g. ORDER_NOT_EXIST; empty when no error body was read
	Message   string          // WeChat Pay's message
	Detail    json.RawMessage // PARAM_ERROR's detail, as sent
	RequestID string          // the Request-ID answer header, for WeChat Pay support
	// Verified is true when the answer carried a WeChat Pay signature that
	// verified. Error answers are classified without one (the official SDKs
	// do not verify them; whether WeChat Pay signs them is UNCONFIRMED), but
	// an answer with a signature that fails is OutcomeUnknown.
	Verified bool
	Err      error // the transport, verification or decoding cause, if any
}

func (e *Error) Error() string {
	s := fmt.Sprintf("wechatpay %s: %s", e.Op, e.Outcome)
	if e.Status != 0 {
		s += fmt.Sprintf(": HTTP %d", e.Status)
	}
	if e.Code != "" {
		s += fmt.Sprintf(" code=%s message=%q", e.Code, e.Message)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.RequestID != "" {
		s += " request_id=" + e.RequestID
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// OutcomeOf classifies what a client method returned: nil is Success; an
// *Error carries its own outcome; anything else is Unknown.
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

// IsCode reports whether err is an error answer from WeChat Pay with this
// code, read from an answer that was not refused by verification.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Err == nil && e.Code == code
}

// transportError is an OutcomeUnknown: the request may or may not have
// reached WeChat Pay. A cancelled context is said so, so callers do not retry.
func transportError(op string, err error) *Error {
	if errors.Is(err, context.Canceled) {
		err = fmt.Errorf("cancelled before the answer came: %w", err)
	} else if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within the deadline: %w", err)
	}
	return &Error{Outcome: OutcomeUnknown, Op: op, Err: err}
}
