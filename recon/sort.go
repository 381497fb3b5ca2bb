package recon

import (
	"bufio"
	"cmp"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/paygate/paygate"
)

// billEntry is a bill row as the merge needs it: a few fields, in a form
// that spills to disk compactly.
type billEntry struct {
	key          string // 商户订单号: the order's channel number
	kind         paygate.BookKind
	outRequestNo string // a refund's
	tradeNo      string
	amount       paygate.Money // a payment's 订单金额, a refund's amount (positive)
	finished     int64         // 完成时间, Unix microseconds
}

// compareBill orders entries by channel number (Go's byte order, as the
// stores sort), payments before refunds, then by out_request_no.
func compareBill(a, b *billEntry) int {
	if c := cmp.Compare(a.key, b.key); c != 0 {
		return c
	}
	if a.kind != b.kind {
		if a.kind == paygate.BookPayment {
			return -1
		}
		return 1
	}
	return cmp.Compare(a.outRequestNo, b.outRequestNo)
}

// sorter sorts the bill's entries, which arrive in completion order, by
// channel number without holding them all: runs of chunk entries are sorted
// in memory and spilled to temporary files, each sorted while the next run
// is read; the runs are then merged. A bill that fits in one run never
// touches the disk.
type sorter struct {
	chunk   int
	dir     string
	run     []billEntry
	files   []*os.File
	pending chan error // the spill in flight, if any
}

func newSorter(chunk int, dir string) *sorter {
	return &sorter{chunk: chunk, dir: dir, run: make([]billEntry, 0, min(chunk, 4096))}
}

func (s *sorter) add(e billEntry) error {
	s.run = append(s.run, e)
	if len(s.run) < s.chunk {
		return nil
	}
	if err := s.wait(); err != nil {
		return err
	}
	f, err := os.CreateTemp(s.dir, "paygate-recon-*.run")
	if err != nil {
		return fmt.Errorf("reconcile: spill the sorted bill: %w", err)
	}
	os.Remove(f.Name()) // unlinked: nothing to clean up, whatever happens
	s.files = append(s.files, f)
	run := s.run
	s.run = make([]billEntry, 0, s.chunk)
	s.pending = make(chan error, 1)
	go func() { s.pending <- spill(f, run) }()
	return nil
}

func (s *sorter) wait() error {
	if s.pending == nil {
		return nil
	}
	err := <-s.pending
	s.pending = nil
	return err
}

// close releases the spill files.
func (s *sorter) close() {
	s.wait()
	for _, f := range s.files {
		f.Close()
	}
}

// iterator returns the entries in order.
func (s *sorter) iterator() (billIter, error) {
	if err := s.wait(); err != nil {
		return nil, err
	}
	slices.SortFunc(s.run, func(a, b billEntry) int { return compareBill(&a, &b) })
	if len(s.files) == 0 {
		return &sliceIter{run: s.run}, nil
	}
	m := &mergeIter{}
	for _, f := range s.files {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		m.add(&fileIter{r: bufio.NewReaderSize(f, 256<<10)})
	}
	m.add(&sliceIter{run: s.run})
	return m, m.init()
}

func spill(f *os.File, run []billEntry) error {
	slices.SortFunc(run, func(a, b billEntry) int { return compareBill(&a, &b) })
	w := bufio.NewWriterSize(f, 256<<10)
	var buf []byte
	for i := range run {
		buf = appendEntry(buf[:0], &run[i])
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("reconcile: spill the sorted bill: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("reconcile: spill the sorted bill: %w", err)
	}
	return nil
}

func appendEntry(b []byte, e *billEntry) []byte {
	for _, s := range []string{e.key, string(e.kind), e.outRequestNo, e.tradeNo} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendVarint(b, int64(e.amount))
	return binary.AppendVarint(b, e.finished)
}

// billIter yields entries in order; next returns false at the end or on
// an error (err tells).
type billIter interface {
	next(e *billEntry) bool
	err() error
}

type sliceIter struct {
	run []billEntry
	i   int
}

func (it *sliceIter) next(e *billEntry) bool {
	if it.i >= len(it.run) {
		return false
	}
	*e = it.run[it.i]
	it.run[it.i] = billEntry{} // let the strings go
	it.i++
	return true
}

func (it *sliceIter) err() error { return nil }

type fileIter struct {
	r   *bufio.Reader
	e   error
	buf []byte
}

func (it *fileIter) next(e *billEntry) bool {
	if it.e != nil {
		return false
	}
	var strs [4]string
	for i := range strs {
		n, err := binary.ReadUvarint(it.r)
		if err != nil {
			if i == 0 && err == io.EOF {
				return false
			}
			it.e = corrupt(err)
			return false
		}
		if n > 1<<16 {
			it.e = corrupt(errors.New("field too long"))
			return false
		}
		it.buf = slices.Grow(it.buf[:0], int(n))[:n]
		if _, err := io.ReadFull(it.r, it.buf); err != nil {
			it.e = corrupt(err)
			return false
		}
		strs[i] = string(it.buf)
	}
	amount, err := binary.ReadVarint(it.r)
	if err != nil {
		it.e = corrupt(err)
		return false
	}
	finished, err := binary.ReadVarint(it.r)
	if err != nil {
		it.e = corrupt(err)
		return false
	}
	*e = billEntry{key: strs[0], kind: paygate.BookKind(strs[1]), outRequestNo: strs[2], tradeNo: strs[3],
		amount: paygate.Money(amount), finished: finished}
	return true
}

func (it *fileIter) err() error { return it.e }

func corrupt(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reconcile: read back the sorted bill: %w", err)
}

// mergeIter merges sorted iterators with a heap.
type mergeIter struct {
	h mergeHeap
	e error
}

type mergeHead struct {
	e  billEntry
	it billIter
}

type mergeHeap []*mergeHead

func (h mergeHeap) Len() int           { return len(h) }
func (h mergeHeap) Less(i, j int) bool { return compareBill(&h[i].e, &h[j].e) < 0 }
func (h mergeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)        { *h = append(*h, x.(*mergeHead)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (m *mergeIter) add(it billIter) { m.h = append(m.h, &mergeHead{it: it}) }

func (m *mergeIter) init() error {
	live := m.h[:0]
	for _, hd := range m.h {
		if hd.it.next(&hd.e) {
			live = append(live, hd)
		} else if err := hd.it.err(); err != nil {
			return err
		}
	}
	m.h = live
	heap.Init(&m.h)
	return nil
}

func (m *mergeIter) next(e *billEntry) bool {
	if len(m.h) == 0 {
		return false
	}
	top := m.h[0]
	*e = top.e
	if top.it.next(&top.e) {
		heap.Fix(&m.h, 0)
	} else {
		if err := top.it.err(); err != nil {
			m.e, m.h = err, nil
			return true
		}
		heap.Pop(&m.h)
	}
	return true
}

func (m *mergeIter) err() error { return m.e }
