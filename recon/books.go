package recon

import (
	"context"
	"time"

	"github.com/paygate/paygate"
)

// bookBatch is how many entries a scan hands over at once, and
// bookBuffered how many batches may wait: the scan runs in its own
// goroutine (on the other core), a little ahead of the merge, in bounded
// memory. (Spooling the whole scan to a file while the bill is read was
// measured slower: both cores are busy then, and the spool's encoding and
// decoding cost more than the overlap gains.)
const (
	bookBatch    = 512
	bookBuffered = 32
)

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
	s := &bookStream{ch: make(chan []paygate.BookEntry, bookBuffered), done: make(chan error, 1)}
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

// close stops waiting for the scan: it drains the goroutine's batches
// (ctx is cancelled by then) and waits for its end.
func (s *bookStream) close() {
	for range s.ch {
	}
	if !s.ended {
		<-s.done
		s.ended = true
	}
}
