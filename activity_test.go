package paygate

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestActivityDetail(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		in   string
		want string
	}{
		{"short", "TRADE_SUCCESS", "TRADE_SUCCESS"},
		{"exactly the bound", strings.Repeat("a", MaxActivityDetail), strings.Repeat("a", MaxActivityDetail)},
		{"one byte over", strings.Repeat("a", MaxActivityDetail+1), strings.Repeat("a", MaxActivityDetail)},
		// 199 bytes, then a 3-byte character across the bound: it goes whole.
		{"a character across the bound", strings.Repeat("a", MaxActivityDetail-1) + "系统", strings.Repeat("a", MaxActivityDetail-1)},
		{"a character ending at the bound", strings.Repeat("a", MaxActivityDetail-3) + "系统", strings.Repeat("a", MaxActivityDetail-3) + "系"},
	} {
		got := ActivityDetail(c.in)
		if got != c.want || len(got) > MaxActivityDetail || !utf8.ValidString(got) {
			t.Errorf("%s: ActivityDetail = %q (%d bytes); want %q", c.name, got, len(got), c.want)
		}
	}
}
