package recon

import (
	"context"
	"time"

	"github.com/paygate/paygate"
)

// bookBatch is how many entries a scan hands over at once: the scan runs in
// its own goroutine (on the other core) while the merge consumes.
const bookBatch = 512

// bookStream reads one of the store's sorted scans from a goroutine.
type bookStream struct {
	ch    chan []paygate.BookEntry
	done  chan error
	cur   []paygate.BookEntry
	i     int
	err   error
	ended bool
}

type scanFunc func(ctx context.Context, from, to time.Time, fn func(*paygate.BookEntry) error) error

// startBooks starts scan over [from, to). The goroutine ends when the scan
// does or ctx is cancelled.
func startBooks(ctx context.Context, scan scanFunc, from, to time.Time) *bookStream {
	s := &bookStream{ch: make(chan []paygate.BookEntry, 8), done: make(chan error, 1)}
	go func() {
		batch := make([]paygate.BookEntry, 0, bookBatch)
		err := scan(ctx, from, to, func(e *paygate.BookEntry) error {
			batch = append(batch, *e)
			if len(batch) < bookBatch {
				return nil
			}
			select {
			case s.ch <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
			batch = make([]paygate.BookEntry, 0, bookBatch)
			return nil
		})
		if err == nil && len(batch) > 0 {
			select {
			case s.ch <- batch:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		close(s.ch)
		s.done <- err
	}()
	return s
}

// peek returns the next entry without taking it; nil at the end or on an
// error (s.err tells).
func (s *bookStream) peek() *paygate.BookEntry {
	for s.i >= len(s.cur) {
		if s.ended {
			return nil
		}
		batch, ok := <-s.ch
		if !ok {
			s.ended = true
			s.err = <-s.done
			return nil
		}
		s.cur, s.i = batch, 0
	}
	return &s.cur[s.i]
}

func (s *bookStream) take() { s.i++ }
