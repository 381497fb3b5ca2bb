package wechatpay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// ChinaTime is UTC+8, the zone WeChat Pay writes every time in. China has no
// daylight saving, so a fixed zone is exact and needs no tzdata.
var ChinaTime = time.FixedZone("CST", 8*60*60)

// FormatTime writes t as APIv3 JSON does: RFC 3339 in UTC+8 with whole
// seconds, e.g. 2024-05-18T10:34:56+08:00.
func FormatTime(t time.Time) string { return t.In(ChinaTime).Format(time.RFC3339) }

// ParseTime reads an APIv3 time: RFC 3339 with an offset, fractional seconds
// allowed (the v3 rules allow yyyy-MM-DDTHH:mm:ss.SSS+08:00).
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("wechatpay: time %q is not RFC 3339", s)
	}
	return t, nil
}

// Time is an APIv3 JSON time. The zero Time is absent: it encodes as ""
// (use the omitzero tag option to leave the key out) and "" decodes to it.
type Time struct{ time.Time }

// MarshalJSON writes FormatTime, or "" for the zero time.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte(`""`), nil
	}
	return json.Marshal(FormatTime(t.Time))
}

// UnmarshalJSON reads ParseTime's form; "" and null are the zero time.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*t = Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("wechatpay: time is not a string")
	}
	if s == "" {
		*t = Time{}
		return nil
	}
	v, err := ParseTime(s)
	if err != nil {
		return err
	}
	*t = Time{v}
	return nil
}
