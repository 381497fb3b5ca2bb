package alipay

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"strings"
	"time"
)

// The CSV records of a bill's table, read on its GBK bytes.

// billTimeCell remembers a time column's last value: rows come in time
// order, many in the same second.
type billTimeCell struct {
	raw [len(TimeLayout)]byte
	t   time.Time
}

// billSpan is where a field lies in billTable.rec.
type billSpan struct{ from, to int }

// billCell remembers a column's last value, so that a value repeated from
// row to row (a kind, an amount of 0.00, a store) is decoded once.
type billCell struct {
	raw []byte
	s   string
}

// record reads the table's next CSV record into t.rec and t.spans, with
// its line number, as encoding/csv reads it with LazyQuotes (a field may be
// quoted, "" in it is a quote, a quoted field may span lines, a stray quote
// is kept), on GBK bytes. Empty lines are skipped.
func (t *billTable) record() (int, error) {
	var l []byte
	for {
		var err error
		if l, err = t.tableLine(); err != nil {
			return 0, err
		}
		if len(l) > 0 {
			break
		}
	}
	line := t.lineNo
	if bytes.IndexByte(l, '"') < 0 {
		// No quotes, as in nearly every row: the fields are the line's bytes.
		t.rec, t.spans = l, billSplit(t.spans[:0], l)
		return line, nil
	}
	t.buf, t.spans = t.buf[:0], t.spans[:0]
	from := 0
	for {
		if len(l) == 0 || l[0] != '"' {
			i := bytes.IndexByte(l, ',')
			if i < 0 {
				t.buf = append(t.buf, l...)
				t.spans = append(t.spans, billSpan{from, len(t.buf)})
				break
			}
			t.buf = append(t.buf, l[:i]...)
			t.spans = append(t.spans, billSpan{from, len(t.buf)})
			from, l = len(t.buf), l[i+1:]
			continue
		}
		var err error
		if l, err = t.quoted(l[1:]); err != nil {
			return 0, err
		}
		t.spans = append(t.spans, billSpan{from, len(t.buf)})
		from = len(t.buf)
		if l == nil {
			break
		}
	}
	t.rec = t.buf
	return line, nil
}

// billSplit appends the spans of l's fields, split at every comma, to
// spans. It looks at eight bytes at a time: a row is some 200 bytes and 25
// fields.
func billSplit(spans []billSpan, l []byte) []billSpan {
	const ones, highs, commas = 0x0101010101010101, 0x8080808080808080, ',' * 0x0101010101010101
	from, i := 0, 0
	for ; i+8 <= len(l); i += 8 {
		w := binary.LittleEndian.Uint64(l[i:]) ^ commas // a comma is now a zero byte
		// The high bit of each zero byte, exactly (no borrow between bytes).
		m := ^((w&^highs + ^uint64(highs)) | w | ^uint64(highs))
		for m != 0 {
			j := i + bits.TrailingZeros64(m)/8
			spans = append(spans, billSpan{from, j})
			from = j + 1
			m &= m - 1
		}
	}
	for ; i < len(l); i++ {
		if l[i] == ',' {
			spans = append(spans, billSpan{from, i})
			from = i + 1
		}
	}
	return append(spans, billSpan{from, len(l)})
}

// quoted appends the quoted field that l (after the opening quote) starts
// to t.buf, reading more lines while it lasts; it returns the rest of the
// line after the field's comma, or nil when the field ended the record.
func (t *billTable) quoted(l []byte) ([]byte, error) {
	more := true // l still has its line end
	for {
		i := bytes.IndexByte(l, '"')
		switch {
		case i >= 0:
			t.buf = append(t.buf, l[:i]...)
			l = l[i+1:]
			switch {
			case len(l) == 0: // `"` and the line's end
				return nil, nil
			case l[0] == ',':
				return l[1:], nil
			case l[0] == '"': // `""`
				l = l[1:]
			}
			t.buf = append(t.buf, '"') // `""`, or a stray quote kept
		case more:
			t.buf = append(t.buf, l...)
			t.buf = append(t.buf, '\n')
			var err error
			l, err = t.tableLine()
			if err == io.EOF {
				l, more = nil, false
			} else if err != nil {
				return nil, err
			}
		default: // the table ended inside the field
			return nil, nil
		}
	}
}

// read reads the table's next record that has a value, a field that is
// more than spaces and tabs, and returns its line number.
func (t *billTable) read() (int, error) {
	for {
		line, err := t.record()
		if err != nil {
			return 0, err
		}
		for i := range t.spans {
			if len(t.field(i)) > 0 {
				return line, nil
			}
		}
	}
}

// billTrim trims the spaces and tabs around a field.
func billTrim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// next is read for rows: a row must have exactly the header's fields, so that
// a shifted row (an unquoted comma) can never put one column's value in
// another, not even when the last column is empty.
func (t *billTable) next() (int, error) {
	line, err := t.read()
	if err != nil {
		return 0, err
	}
	if len(t.spans) != len(t.header) {
		return 0, fmt.Errorf("line %d: %d fields, the header (line %d) has %d", line, len(t.spans), t.headerLine, len(t.header))
	}
	return line, nil
}

// strings returns the current record's fields, decoded.
func (t *billTable) strings() []string {
	rec := make([]string, len(t.spans))
	for i := range t.spans {
		rec[i] = t.str(i)
	}
	return rec
}

// field is the current record's field i, trimmed of the spaces and the tab
// Alipay puts around IDs.
func (t *billTable) field(i int) []byte {
	s := t.spans[i]
	return billTrim(t.rec[s.from:s.to])
}

// str is field i decoded; the trim repeats, on the text, the one field made
// on the bytes (U+FEFF, which no GBK code decodes to, included).
func (t *billTable) str(i int) string {
	f := t.field(i)
	if billASCII(f) {
		return string(f)
	}
	return strings.Trim(t.decode(f), " \t\ufeff")
}

// cached is str for a column whose values repeat; "" for i < 0.
func (t *billTable) cached(i int) string {
	if i < 0 {
		return ""
	}
	f, c := t.field(i), &t.cache[i]
	if len(f) == 0 {
		return ""
	}
	if c.raw == nil || !bytes.Equal(f, c.raw) {
		c.raw, c.s = append(c.raw[:0], f...), t.str(i)
	}
	return c.s
}
