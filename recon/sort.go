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
	"strings"

	"github.com/paygate/paygate"
)

// entry is a bill row, or an entry of the books, as the merge needs it: a
// few fields, in a form that spills to disk compactly.
type entry struct {
	key          string // the order's channel number (the bill's 商户订单号)
	outRequestNo string // a refund's
	tradeNo      string
	amount       paygate.Money // a payment's total, a refund's amount (positive)
	at           int64         // when it completed, Unix microseconds
	kind         entryKind
}

type entryKind uint8

const (
	kindPayment entryKind = iota
	kindRefund
)

func (k entryKind) book() paygate.BookKind {
	if k == kindRefund {
		return paygate.BookRefund
	}
	return paygate.BookPayment
}

// compareEntries orders entries by channel number (Go's byte order, as the
// stores sort), payments before refunds, then by out_request_no.
func compareEntries(a, b *entry) int {
	if c := strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	if c := cmp.Compare(a.kind, b.kind); c != 0 {
		return c
	}
	return strings.Compare(a.outRequestNo, b.outRequestNo)
}

// sortKey sorts a run without moving its entries: the key's first 16
// bytes, zero-padded, as two big-endian numbers decide nearly every
// comparison without touching the strings (a channel number differs from
// the next within its first 16 bytes but for a one-in-2^24 chance);
// equal prefixes fall back to compareEntries.
type sortKey struct {
	p0, p1 uint64
	i      int32
}

func prefix(s string) (uint64, uint64) {
	var b [16]byte
	copy(b[:], s)
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// sortRun returns the order of run's entries.
func sortRun(run []entry) []sortKey {
	keys := make([]sortKey, len(run))
	for i := range run {
		p0, p1 := prefix(run[i].key)
		keys[i] = sortKey{p0, p1, int32(i)}
	}
	slices.SortFunc(keys, func(a, b sortKey) int {
		if a.p0 != b.p0 {
			return cmp.Compare(a.p0, b.p0)
		}
		if a.p1 != b.p1 {
			return cmp.Compare(a.p1, b.p1)
		}
		return compareEntries(&run[a.i], &run[b.i])
	})
	return keys
}

// sorter sorts the bill's entries, which arrive in completion order, by
// channel number without holding them all: runs of chunk entries are sorted
// in memory and spilled to temporary files, each sorted and written while
// the next run is read; the runs are then merged. A bill that fits in one
// run never touches the disk.
type sorter struct {
	chunk   int
	dir     string
	run     []entry
	files   []*os.File
	pending chan error // the spill in flight, if any
}

func newSorter(chunk int, dir string) *sorter {
	return &sorter{chunk: chunk, dir: dir, run: make([]entry, 0, min(chunk, 1<<16))}
}

func (s *sorter) add(e entry) error {
	s.run = append(s.run, e)
	if len(s.run) < s.chunk {
		return nil
	}
	if err := s.wait(); err != nil {
		return err
	}
	f, err := tempFile(s.dir, "paygate-recon-*.run")
	if err != nil {
		return err
	}
	s.files = append(s.files, f)
	run := s.run
	s.run = make([]entry, 0, s.chunk)
	s.pending = make(chan error, 1)
	go func() { s.pending <- spill(f, run) }()
	return nil
}

// tempFile makes an unlinked temporary file: nothing to clean up, whatever
// happens to the process.
func tempFile(dir, pattern string) (*os.File, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, fmt.Errorf("reconcile: spill to disk: %w", err)
	}
	os.Remove(f.Name())
	return f, nil
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
func (s *sorter) iterator() (entryIter, error) {
	if err := s.wait(); err != nil {
		return nil, err
	}
	last := &sliceIter{run: s.run, order: sortRun(s.run)}
	if len(s.files) == 0 {
		return last, nil
	}
	m := &mergeIter{}
	for _, f := range s.files {
		it, err := newFileIter(f)
		if err != nil {
			return nil, err
		}
		m.add(it)
	}
	m.add(last)
	return m, m.init()
}

func spill(f *os.File, run []entry) error {
	w := newEntryWriter(f)
	for _, k := range sortRun(run) {
		w.write(&run[k.i])
	}
	return w.flush()
}

// entryWriter writes entries to a file: lengths and numbers as varints.
type entryWriter struct {
	w   *bufio.Writer
	buf []byte
	err error
}

func newEntryWriter(f *os.File) *entryWriter {
	return &entryWriter{w: bufio.NewWriterSize(f, 256<<10)}
}

func (w *entryWriter) write(e *entry) {
	if w.err != nil {
		return
	}
	b := append(w.buf[:0], byte(e.kind))
	for _, s := range []string{e.key, e.outRequestNo, e.tradeNo} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendVarint(b, int64(e.amount))
	b = binary.AppendVarint(b, e.at)
	w.buf = b
	_, w.err = w.w.Write(b)
}

func (w *entryWriter) flush() error {
	if w.err == nil {
		w.err = w.w.Flush()
	}
	if w.err != nil {
		return fmt.Errorf("reconcile: spill to disk: %w", w.err)
	}
	return nil
}

// entryIter yields entries in order; next returns false at the end or on
// an error (err tells).
type entryIter interface {
	next(e *entry) bool
	err() error
}

// sliceIter yields a run in the order sortRun gave.
type sliceIter struct {
	run   []entry
	order []sortKey
	i     int
}

func (it *sliceIter) next(e *entry) bool {
	if it.i >= len(it.order) {
		return false
	}
	j := it.order[it.i].i
	*e = it.run[j]
	it.run[j] = entry{} // let the strings go
	it.i++
	return true
}

func (it *sliceIter) err() error { return nil }

// fileIter reads back what an entryWriter wrote, from its own buffer: a
// record is parsed where it lies, its strings made with one allocation.
type fileIter struct {
	r   io.Reader
	buf []byte
	off int // start of the unread bytes in buf
	end int // end of the valid bytes in buf
	eof bool
	e   error
}

var errCorrupt = errors.New("reconcile: read back from disk: a corrupt record")

func newFileIter(f *os.File) (*fileIter, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("reconcile: read back from disk: %w", err)
	}
	return &fileIter{r: f, buf: make([]byte, 256<<10)}, nil
}

// more reads more of the file after the unread bytes, growing the buffer
// when a record does not fit.
func (it *fileIter) more() {
	n := copy(it.buf, it.buf[it.off:it.end])
	it.off, it.end = 0, n
	if it.end == len(it.buf) {
		it.buf = append(it.buf, make([]byte, len(it.buf))...)
	}
	m, err := io.ReadAtLeast(it.r, it.buf[it.end:], 1)
	it.end += m
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		it.eof = true
	case err != nil:
		it.e, it.eof = fmt.Errorf("reconcile: read back from disk: %w", err), true
	}
}

func (it *fileIter) next(e *entry) bool {
	for it.e == nil {
		n, ok := parseEntry(it.buf[it.off:it.end], e)
		if ok {
			it.off += n
			return true
		}
		if n < 0 {
			it.e = errCorrupt
			break
		}
		if it.eof {
			if it.off != it.end {
				it.e = errCorrupt
			}
			break
		}
		it.more()
	}
	return false
}

// parseEntry parses one record at the start of b into e: its length and
// true; 0 and false when b holds only part of one; -1 when it is corrupt.
func parseEntry(b []byte, e *entry) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	p := 1
	var spans [3][2]int
	total := 0
	for i := range spans {
		n, k := binary.Uvarint(b[p:])
		switch {
		case k == 0:
			return 0, false
		case k < 0 || n > 1<<20:
			return -1, false
		case p+k+int(n) > len(b):
			return 0, false
		}
		spans[i] = [2]int{p + k, p + k + int(n)}
		total += int(n)
		p += k + int(n)
	}
	var nums [2]int64
	for i := range nums {
		v, k := binary.Varint(b[p:])
		switch {
		case k == 0:
			return 0, false
		case k < 0:
			return -1, false
		}
		nums[i], p = v, p+k
	}
	amount, at := nums[0], nums[1]
	all := make([]byte, 0, total) // one string holds the three fields
	for _, sp := range spans {
		all = append(all, b[sp[0]:sp[1]]...)
	}
	str := string(all)
	l0, l1 := spans[0][1]-spans[0][0], spans[1][1]-spans[1][0]
	*e = entry{key: str[:l0], outRequestNo: str[l0 : l0+l1], tradeNo: str[l0+l1:],
		amount: paygate.Money(amount), at: at, kind: entryKind(b[0])}
	return p, true
}

func (it *fileIter) err() error { return it.e }

// mergeIter merges sorted iterators with a heap.
type mergeIter struct {
	h mergeHeap
	e error
}

type mergeHead struct {
	e  entry
	it entryIter
}

type mergeHeap []*mergeHead

func (h mergeHeap) Len() int           { return len(h) }
func (h mergeHeap) Less(i, j int) bool { return compareEntries(&h[i].e, &h[j].e) < 0 }
func (h mergeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)        { *h = append(*h, x.(*mergeHead)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (m *mergeIter) add(it entryIter) { m.h = append(m.h, &mergeHead{it: it}) }

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

func (m *mergeIter) next(e *entry) bool {
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
