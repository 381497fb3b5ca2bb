package httpapi

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/paygate/paygate"
)

// Following new events (what `paygate listen` does): GET /api/v1/events
// with since (an RFC 3339 time: the events created at or after it) or after
// (a position returned as next_cursor by an earlier such call) lists events
// oldest first, and next_cursor is never null: it is the position after
// the last event listed (the one asked from when none was), to pass as
// after next time. An empty page means nothing newer yet: ask again later
// with the same cursor.
//
// A follower should start a while back (since) and skip the IDs it has
// seen: an event's created_at is stamped before its transaction commits, so
// an event may become visible slightly after one created later.

// followCursorPrefix marks a follow cursor: the position (Unix microseconds
// and ID, the ID empty for "from this time on") after which to list.
const followCursorPrefix = "f1:"

func encodeFollowCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(followCursorPrefix + strconv.FormatInt(at.UnixMicro(), 10) + ":" + id))
}

func decodeFollowCursor(s string) (time.Time, string, error) {
	bad := invalid("after is not a next_cursor that following (since or after) returned; use it as given")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, "", bad
	}
	rest, ok := strings.CutPrefix(string(raw), followCursorPrefix)
	if !ok {
		return time.Time{}, "", bad
	}
	digits, id, ok := strings.Cut(rest, ":")
	if !ok || digits == "" || !isDigits(digits) || len(id) > 64 || (id != "" && !isAlnumUnderscore(id)) {
		return time.Time{}, "", bad
	}
	us, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || us <= 0 {
		return time.Time{}, "", bad
	}
	return time.UnixMicro(us).UTC(), id, nil
}

// followFrom reads since or after into f and reports whether the call
// follows. since is inclusive, to the microsecond (finer fractions are
// dropped): its position is its time with an empty ID, before every ID.
func followFrom(q url.Values, f *paygate.EventFilter) (bool, error) {
	since, hasSince := q["since"]
	after, hasAfter := q["after"]
	switch {
	case hasSince && hasAfter:
		return false, invalid("give since or after, not both: after already says where to go on from")
	case hasSince:
		t, err := time.Parse(time.RFC3339Nano, since[0])
		if err != nil || t.UnixMicro() <= 0 {
			return false, invalid("since must be an RFC 3339 time after 1970 such as 2026-01-02T15:04:05Z")
		}
		f.AfterCreatedAt, f.AfterID = time.UnixMicro(t.UnixMicro()).UTC(), ""
		return true, nil
	case hasAfter:
		at, id, err := decodeFollowCursor(after[0])
		if err != nil {
			return false, err
		}
		f.AfterCreatedAt, f.AfterID = at, id
		return true, nil
	}
	return false, nil
}

// followEvents: the page of events after f's position, oldest first, and
// the cursor to go on from.
func (s *Server) followEvents(c *gin.Context, f paygate.EventFilter) (int, any, error) {
	events, err := s.events.ListEvents(c.Request.Context(), f)
	if err != nil {
		return 0, nil, err
	}
	out := eventListJSON{Events: make([]eventJSON, 0, len(events))}
	at, id := f.AfterCreatedAt, f.AfterID
	for _, e := range events {
		out.Events = append(out.Events, newEventJSON(e))
		at, id = e.CreatedAt, e.ID
	}
	cur := encodeFollowCursor(at, id)
	out.NextCursor = &cur
	return http.StatusOK, out, nil
}
