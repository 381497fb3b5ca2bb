package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/paygate/paygate"
)

// invalid is a 400 INVALID_REQUEST with a message saying what is wrong.
func invalid(format string, args ...any) error {
	return paygate.Errorf(paygate.EInvalid, format, args...)
}

// decodeJSON decodes body, exactly one JSON object with only known fields,
// into v. It is stricter than encoding/json, which would let a later
// duplicate key override an earlier one, match keys case-insensitively and
// replace invalid UTF-8 silently: a body that means something other than
// what its first reading says (two total_amount, a TOTAL_AMOUNT) is refused,
// never guessed at.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return invalid("the request body must be a JSON object")
	}
	if err := checkJSONText(body); err != nil {
		return err
	}
	if err := checkJSONKeys(body, jsonFieldNames(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("%s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("the request body must be a single JSON object")
	}
	return nil
}

// describeJSONError says what is wrong with a body in terms of its fields.
func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return fmt.Sprintf("field %s must be a %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
	case errors.As(err, &typeErr):
		return "the request body must be a JSON object"
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("the request body is not valid JSON (at byte %d)", syntaxErr.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the request body is truncated JSON"
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "unknown field " + f
	}
	return "the request body is not valid JSON"
}

func jsonKind(goKind string) string {
	if goKind == "string" {
		return "string"
	}
	return "JSON " + goKind
}

// emptyBody accepts no body or an empty JSON object, for actions that take
// no parameters.
func emptyBody(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	return decodeJSON(body, &struct{}{})
}

// checkQuery allows only the named parameters, each at most once.
func checkQuery(q url.Values, allowed ...string) error {
	for k, vs := range q {
		found := false
		for _, a := range allowed {
			found = found || k == a
		}
		if !found {
			return invalid("unknown query parameter %q", k)
		}
		if len(vs) > 1 {
			return invalid("query parameter %s is given %d times", k, len(vs))
		}
	}
	return nil
}

// checkTradeNo checks an out_trade_no or out_request_no: 1 to 64 of
// Alipay's alphabet for them.
func checkTradeNo(field, v string) error {
	if len(v) == 0 || len(v) > 64 || !isAlnumUnderscore(v) {
		return invalid("%s must be 1 to 64 characters of A-Z, a-z, 0-9 and _", field)
	}
	return nil
}

func isAlnumUnderscore(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// checkText checks a free-text field: valid UTF-8, at most max characters
// (runes), no control characters.
func checkText(field, v string, max int) error {
	if !utf8.ValidString(v) {
		return invalid("%s must be valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(v); n > max {
		return invalid("%s must be at most %d characters, not %d", field, max, n)
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return invalid("%s must not contain control characters", field)
	}
	return nil
}

// checkSubject: 1 to 256 characters, not blank, none of "/", "=", "&",
// which Alipay forbids in face-to-face subjects.
func checkSubject(v string) error {
	if strings.TrimSpace(v) == "" {
		return invalid("subject is required")
	}
	if err := checkText("subject", v, 256); err != nil {
		return err
	}
	if strings.ContainsAny(v, "/=&") {
		return invalid("subject must not contain /, = or &")
	}
	return nil
}

// parseAmount reads a required yuan amount in [0.01, 100000000.00].
func parseAmount(field, v string) (paygate.Money, error) {
	if v == "" {
		return 0, invalid("%s is required, as a string of yuan like \"99.99\"", field)
	}
	m, err := paygate.ParseYuan(v)
	if err != nil {
		return 0, invalid("%s must be yuan with at most two decimals, like \"99.99\"", field)
	}
	if m < 1 || m > paygate.MaxAmount {
		return 0, invalid("%s must be between 0.01 and %s", field, paygate.MaxAmount.Yuan())
	}
	return m, nil
}

// checkAuthCode checks the buyer's payment code for channel. Alipay's: 10
// to 32 of [0-9A-Za-z] (its codes today are 16 to 24 digits, or
// "fp"-prefixed for face payment; the wider rule refuses nonsense without
// refusing a future format). WeChat Pay's: exactly its 付款码 form, 18
// digits starting with 10 to 15 (paygate.IsWechatAuthCode). Auto: either,
// since the gateway routes the code by its prefix; Alipay's rule already
// admits every WeChat code.
func checkAuthCode(channel paygate.Channel, v string) error {
	if channel == paygate.ChannelWechat {
		if !paygate.IsWechatAuthCode(v) {
			return invalid("auth_code must be a WeChat Pay payment code on channel \"wechat\": 18 digits starting with 10 to 15")
		}
		return nil
	}
	if len(v) < 10 || len(v) > 32 || !isAlnum(v) {
		return invalid("auth_code must be 10 to 32 characters of 0-9, A-Z and a-z")
	}
	return nil
}

func isAlnum(s string) bool {
	return isAlnumUnderscore(s) && !strings.Contains(s, "_")
}

// checkNotifyURL: optional, an absolute http or https URL of at most 256
// bytes, as paygate.CheckWebhookURL allows.
func checkNotifyURL(v string) error {
	if v == "" {
		return nil
	}
	if len(v) > 256 {
		return invalid("notify_url must be at most 256 bytes")
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return invalid("notify_url must be an absolute http or https URL")
	}
	if err := paygate.CheckWebhookURL(v); err != nil { // user information, numeric hosts
		return invalid("notify_url: %s", paygate.ErrorMessage(err))
	}
	return nil
}

// maxReturnURL bounds return_url: room for a shop's query string, not for a
// document.
const maxReturnURL = 1024

// checkReturnURL: optional, an absolute http or https URL of at most 1024
// bytes without user information (a link like https://user:pass@host shown
// to buyers is a phishing device). Its host may be anything: the buyer's
// browser follows it, never this server.
func checkReturnURL(v string) error {
	if v == "" {
		return nil
	}
	if len(v) > maxReturnURL {
		return invalid("return_url must be at most %d bytes", maxReturnURL)
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return invalid("return_url must be an absolute http or https URL, like https://shop.example/thanks")
	}
	if u.User != nil {
		return invalid("return_url must not carry user information (user:password@)")
	}
	return nil
}

// Bounds of an order's timeout, as Alipay's timeout_express allows.
const (
	minTimeout = time.Minute
	maxTimeout = 15 * 24 * time.Hour
)

// parseTimeout reads an optional timeout: a Go duration ("15m", "2h",
// "1h30m") or whole days ("1d", "15d"), in whole minutes from 1m to 15d.
func parseTimeout(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok && days != "" && len(days) <= 2 && isDigits(days) {
		n, _ := strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, invalid("timeout must be a duration like \"15m\", \"2h\" or \"1d\"")
		}
	}
	if d%time.Minute != 0 {
		return 0, invalid("timeout must be a whole number of minutes")
	}
	if d < minTimeout || d > maxTimeout {
		return 0, invalid("timeout must be between 1m and 15d")
	}
	return d, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
