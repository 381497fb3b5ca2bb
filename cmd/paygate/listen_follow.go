package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/paygate/paygate/client"
)

// How listen follows: each poll goes on from the last cursor; every
// listenRescan polls it also looks again at the last listenOverlap of
// events. An event's created_at is stamped before its transaction commits,
// so an event can appear after one created later has been seen; the rescan
// finds it, and the ids already seen (kept for that long) are skipped.
const (
	listenPage    = 100
	listenOverlap = time.Minute
	listenRescan  = 10
)

// run follows until ctx ends (Ctrl-C), which is a clean stop. A refused
// authentication ends it with an error; anything else (paygate restarting,
// a network hiccup) is reported and asked again.
func (l *listener) run(ctx context.Context) error {
	what := "every event"
	if len(l.types) > 0 {
		what = strings.Join(l.types, ", ") + " events"
	}
	from := "new ones"
	if l.since.Before(l.now().Add(-time.Second)) {
		from = "since " + l.since.Local().Format(time.DateTime)
	}
	fmt.Fprintf(l.out, "Forwarding %s (%s) of merchant %s at %s to %s. Ctrl-C stops.\n", what, from, l.key, l.base, l.target)
	seen := map[string]time.Time{} // id → created_at
	var newest time.Time           // the newest created_at seen, paygate's clock
	cursor := ""
	for poll := 0; ; poll++ {
		if cursor == "" || poll%listenRescan == 0 {
			start := l.since
			if newest.Add(-listenOverlap).After(start) {
				start = newest.Add(-listenOverlap)
			}
			for id, at := range seen {
				// The API shows created_at in whole seconds: an event
				// shown at `at` was made before at+1s. Forget it only
				// once no rescan can list it again.
				if !at.Add(time.Second).After(start) {
					delete(seen, id)
				}
			}
			if c, err := l.follow(ctx, client.ListEventsParams{Since: start}, seen, &newest); err == nil && cursor == "" {
				cursor = c
			} else if err != nil {
				if done, ferr := l.failed(ctx, err); done {
					return ferr
				}
			}
		} else if c, err := l.follow(ctx, client.ListEventsParams{After: cursor}, seen, &newest); err != nil {
			if done, ferr := l.failed(ctx, err); done {
				return ferr
			}
		} else {
			cursor = c
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(l.out, "Stopped.")
			return nil
		case <-time.After(l.interval):
		}
	}
}

// failed reports an error of the events API and says whether to stop: on
// Ctrl-C (nil), or when paygate refuses the request for good (a 4xx other
// than 429: credentials refused, no such API at that address).
func (l *listener) failed(ctx context.Context, err error) (bool, error) {
	if ctx.Err() != nil {
		fmt.Fprintln(l.out, "Stopped.")
		return true, nil
	}
	var apiErr *client.APIError
	if errors.As(err, &apiErr) && !apiErr.Retryable() {
		return true, fmt.Errorf("listen: %s refused the request (asking again would not help): %w", l.base, err)
	}
	fmt.Fprintf(l.errOut, "listen: could not ask %s for events (asking again): %v\n", l.base, err)
	return false, nil
}

// follow lists from p, page after page while pages are full, forwards
// every event not seen yet, and returns the cursor to go on from.
func (l *listener) follow(ctx context.Context, p client.ListEventsParams, seen map[string]time.Time, newest *time.Time) (string, error) {
	p.Limit = listenPage
	for {
		page, err := l.api.ListEvents(ctx, p)
		if err != nil {
			return "", err
		}
		for _, e := range page.Events {
			if _, ok := seen[e.ID]; ok {
				continue
			}
			var at time.Time
			if e.CreatedAt != nil {
				at = *e.CreatedAt
			}
			seen[e.ID] = at
			if at.After(*newest) {
				*newest = at
			}
			if len(l.types) == 0 || slices.Contains(l.types, e.Type) {
				l.forward(ctx, e, at)
			}
		}
		if len(page.Events) < listenPage || ctx.Err() != nil {
			return page.NextCursor, nil
		}
		p = client.ListEventsParams{After: page.NextCursor, Limit: listenPage}
	}
}

// forward POSTs the event's webhook body to the target, signed now as a
// delivery is (client.SignWebhookHeaders), and prints one line.
func (l *listener) forward(ctx context.Context, e client.EventInfo, at time.Time) {
	line := fmt.Sprintf("%s  %s  %-18s", at.Local().Format(time.DateTime), e.ID, e.Type)
	if len(e.Payload) == 0 || string(e.Payload) == "null" {
		fmt.Fprintf(l.out, "%s  not forwarded: paygate returned no payload for it\n", line)
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.target, bytes.NewReader(e.Payload))
	if err != nil {
		fmt.Fprintf(l.out, "%s  not forwarded: %v\n", line, err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", listenUserAgent)
	client.SignWebhookHeaders(req.Header, e.ID, []string{l.secret}, l.now(), e.Payload)
	start := time.Now()
	resp, err := l.http.Do(req)
	took := time.Since(start)
	if ctx.Err() != nil {
		return // Ctrl-C while forwarding: not the handler's failure
	}
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // net/http puts the URL first: the line shows it already
		}
		fmt.Fprintf(l.out, "%s  -> error: %v (%s)\n", line, err, took.Round(time.Millisecond))
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	fmt.Fprintf(l.out, "%s  -> %d %s (%s)\n", line, resp.StatusCode, http.StatusText(resp.StatusCode), took.Round(time.Millisecond))
}
