package jobs

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/paygate/paygate"
)

func TestExcerpt(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 150) // 300 bytes
	for _, c := range []struct{ name, in, want string }{
		{"plain", "ok", "ok"},
		{"trimmed", "  bad gateway\n", "bad gateway"},
		{"controls", "a\x00b\tc\r\nd", "a b c  d"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
		{"cut character dropped", "ab\xe4\xb8", "ab"},
		{"long", long, strings.Repeat("é", paygate.MaxExcerpt/2)},
		{"long, cut mid-character", "x" + long, "x" + strings.Repeat("é", paygate.MaxExcerpt/2-1)},
	} {
		got := excerpt([]byte(c.in))
		if got != c.want {
			t.Errorf("%s: excerpt(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
		if len(got) > paygate.MaxExcerpt || !utf8.ValidString(got) || strings.ContainsRune(got, 0) {
			t.Errorf("%s: excerpt %q is not storable", c.name, got)
		}
	}
}

func TestNextRetry(t *testing.T) {
	t.Parallel()
	w := NewDeliverEventWorker(WebhookConfig{}, []time.Duration{time.Minute, time.Hour})
	for attempt, want := range map[int]time.Duration{1: time.Minute, 2: time.Hour, 3: time.Hour, 0: time.Minute} {
		got := time.Until(w.NextRetry(&river.Job[DeliverEventArgs]{JobRow: &rivertype.JobRow{Attempt: attempt}}))
		if got < want-time.Second || got > want {
			t.Errorf("after attempt %d: retry in %v, want %v", attempt, got, want)
		}
	}
	var total time.Duration
	for _, d := range DefaultWebhookSchedule {
		total += d
	}
	if total < 24*time.Hour {
		t.Errorf("DefaultWebhookSchedule retries for %v, less than 24 h", total)
	}
}
