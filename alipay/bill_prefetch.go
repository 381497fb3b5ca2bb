package alipay

import (
	"errors"
	"io"
	"runtime"
	"sync"
)

const (
	// billPrefetchMin is the size of a bill entry from which OpenBillZip
	// decompresses in a goroutine of its own: below it, the second core
	// would save less than the hand-over costs.
	billPrefetchMin = 1 << 20
	// billPrefetchChunk and billPrefetchChunks bound what is read ahead.
	billPrefetchChunk  = 256 << 10
	billPrefetchChunks = 4
)

// billPrefetch reads src ahead in a goroutine, so that the archive's
// decompression and CRC-32 run on another core than the parsing: Read
// returns src's bytes in order, then src's error, as reading src would.
// Close stops the goroutine and waits for it, so that src can then be
// closed.
type billPrefetch struct {
	full chan billChunk
	free chan []byte
	stop chan struct{}
	done chan struct{}
	once sync.Once

	cur  billChunk
	rest []byte // what cur.data still holds
}

var errBillReadClosed = errors.New("read after Close")

type billChunk struct {
	data []byte
	err  error
}

func newBillPrefetch(src io.Reader) *billPrefetch {
	p := &billPrefetch{
		full: make(chan billChunk, billPrefetchChunks),
		free: make(chan []byte, billPrefetchChunks),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	for range billPrefetchChunks - 1 {
		p.free <- make([]byte, billPrefetchChunk)
	}
	go p.fill(src, make([]byte, billPrefetchChunk))
	return p
}

// fill reads src into free buffers and hands them over, until src fails
// (io.EOF included) or Close.
func (p *billPrefetch) fill(src io.Reader, buf []byte) {
	defer close(p.done)
	for {
		n, err := io.ReadFull(src, buf)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		select {
		case p.full <- billChunk{buf[:n], err}:
		case <-p.stop:
			return
		}
		if err != nil {
			return
		}
		select {
		case buf = <-p.free:
		case <-p.stop:
			return
		}
	}
}

func (p *billPrefetch) Read(b []byte) (int, error) {
	for len(p.rest) == 0 {
		if p.cur.err != nil {
			return 0, p.cur.err
		}
		if p.cur.data != nil {
			p.free <- p.cur.data[:cap(p.cur.data)]
		}
		select {
		case <-p.stop:
			return 0, errBillReadClosed
		default:
		}
		select {
		case p.cur = <-p.full:
		case <-p.stop:
			return 0, errBillReadClosed
		}
		p.rest = p.cur.data
	}
	n := copy(b, p.rest)
	p.rest = p.rest[n:]
	return n, nil
}

// Close stops the goroutine and returns once it has stopped reading src.
func (p *billPrefetch) Close() error {
	p.once.Do(func() { close(p.stop) })
	<-p.done
	return nil
}

// billPrefetchCloser closes the prefetch, then the source.
type billPrefetchCloser struct {
	p   *billPrefetch
	src io.Closer
}

func (c billPrefetchCloser) Close() error {
	c.p.Close()
	return c.src.Close()
}

// stopWhenUnreachable stops p's goroutine once r is garbage, for a caller
// that drops a reader without closing it; the entry itself is then left to
// the garbage collector, as it would be without the goroutine.
func stopWhenUnreachable(r *BillReader, p *billPrefetch) {
	runtime.AddCleanup(r, func(p *billPrefetch) { p.once.Do(func() { close(p.stop) }) }, p)
}
