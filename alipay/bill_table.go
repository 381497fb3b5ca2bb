package alipay

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// billTable reads one bill file: the head lines, the CSV table between the
// "#---<list>---" and "#---<list>结束---" markers, and the lines after it.
//
// The file is read as GBK bytes and split into lines and fields before it is
// decoded: ',', '"', '\r' and '\n' are below 0x40, GBK's lowest trail byte,
// so they never occur inside a character, and the split is the one the
// decoded text would give. Only the fields that are not ASCII are decoded,
// each on its own, which yields what decoding the whole file would.
type billTable struct {
	account    string
	start, end time.Time
	header     []string       // column names as written, trimmed
	cols       map[string]int // billColKey(name) → index
	used       []bool         // columns read into typed fields; the rest go to Extra
	err        error          // the first missing required column
	headerLine int
	firstLine  int      // the file's line number of the table's first line
	footer     []string // the lines after the end marker, once it is reached
	footerLine int      // the file's line number of footer[0]

	br     *bufio.Reader // the file, GBK
	dec    *encoding.Decoder
	list   string // the table's marker word
	lineNo int    // lines read from br
	ended  bool   // the end marker was read
	long   []byte // a line longer than br's buffer

	// The current record: its fields are rec[spans[i].from:spans[i].to],
	// untrimmed (field trims), GBK bytes in br's buffer or, when the record
	// has quotes, in buf. Spans hold no pointers: storing them costs the
	// garbage collector nothing.
	rec   []byte
	spans []billSpan
	buf   []byte
	cache []billCell     // per column, the last value decoded
	times []billTimeCell // per column, the last time parsed
}

// billTimeCell remembers a time column's last value: rows come in time
// order, many in the same second.
type billTimeCell struct {
	raw [len(TimeLayout)]byte
	t   time.Time
}

type billSpan struct{ from, to int }

// billCell remembers a column's last value, so that a value repeated from
// row to row (a kind, an amount of 0.00, a store) is decoded once.
type billCell struct {
	raw []byte
	s   string
}

func openBillTable(gbk []byte, list string) (*billTable, error) {
	return openBillTableReader(bytes.NewReader(gbk), list)
}

// openBillTableReader reads a bill file's head lines up to the table's
// marker; the table's rows then stream from r as they are read (next), and
// the lines after its end marker are kept once it is reached (footer).
// Nothing but one line at a time is held, whatever the file's size.
func openBillTableReader(gbk io.Reader, list string) (*billTable, error) {
	t := &billTable{br: bufio.NewReaderSize(gbk, 64<<10), dec: simplifiedchinese.GBK.NewDecoder(), list: list}
	var head []string
	for {
		l, err := t.line()
		if err == io.EOF {
			return nil, fmt.Errorf("no #---%s--- line", list)
		}
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(l, "#") && strings.Contains(l, list+"结束") {
			return nil, fmt.Errorf("no #---%s--- line", list)
		}
		if strings.HasPrefix(l, "#") && strings.Contains(l, list) {
			break
		}
		head = append(head, l)
	}
	t.firstLine = t.lineNo + 1
	if err := t.readHead(head); err != nil {
		return nil, err
	}
	line, err := t.read()
	if err == io.EOF {
		return nil, fmt.Errorf("line %d: no header row after the %s marker", t.firstLine-1, list)
	}
	if err != nil {
		return nil, err
	}
	header := t.strings()
	t.header, t.headerLine = header, line
	t.cols, t.used = make(map[string]int, len(header)), make([]bool, len(header))
	t.cache, t.times = make([]billCell, len(header)), make([]billTimeCell, len(header))
	for i, h := range header {
		if h == "" {
			continue
		}
		if _, dup := t.cols[billColKey(h)]; dup {
			return nil, fmt.Errorf("line %d: column %s appears twice", line, h)
		}
		t.cols[billColKey(h)] = i
	}
	return t, nil
}

// rawLine reads the file's next line without its line end (\n or \r\n), as
// GBK bytes valid until the next read.
func (t *billTable) rawLine() ([]byte, error) {
	l, err := t.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		t.long = append(t.long[:0], l...)
		for err == bufio.ErrBufferFull {
			l, err = t.br.ReadSlice('\n')
			t.long = append(t.long, l...)
		}
		l = t.long
	}
	if err == io.EOF && len(l) == 0 {
		return nil, io.EOF
	}
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read: %w", err)
	}
	t.lineNo++
	l = bytes.TrimSuffix(l, []byte("\n"))
	return bytes.TrimSuffix(l, []byte("\r")), nil
}

// line is rawLine decoded.
func (t *billTable) line() (string, error) {
	l, err := t.rawLine()
	if err != nil {
		return "", err
	}
	return t.decode(l), nil
}

// decode decodes GBK; ASCII is its own decoding.
func (t *billTable) decode(b []byte) string {
	if billASCII(b) {
		return string(b)
	}
	s, err := t.dec.Bytes(b)
	if err != nil { // the GBK decoder replaces what it cannot decode, never fails
		return string(b)
	}
	return string(s)
}

// billASCII reports whether b is ASCII, eight bytes at a time.
func billASCII(b []byte) bool {
	for ; len(b) >= 8; b = b[8:] {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return false
		}
	}
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// tableLine returns the table's next line as encoding/csv would read it:
// without its line end, \r\n and a \r before it (csv's own normalisation of
// the \r\n it was fed) alike. The end marker ends the table (io.EOF) and the
// lines after it are kept in the footer; a file without the marker was cut
// short.
func (t *billTable) tableLine() ([]byte, error) {
	if t.ended {
		return nil, io.EOF
	}
	l, err := t.rawLine()
	if err == io.EOF {
		return nil, fmt.Errorf("no #---%s结束--- line after line %d: the file is cut short", t.list, t.firstLine-1)
	}
	if err != nil {
		return nil, err
	}
	if len(l) > 0 && l[0] == '#' && strings.Contains(t.decode(l), t.list+"结束") {
		t.ended, t.footerLine = true, t.lineNo+1
		for {
			f, err := t.line()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			t.footer = append(t.footer, f)
		}
		return nil, io.EOF
	}
	return bytes.TrimSuffix(l, []byte("\r")), nil
}

func (t *billTable) readHead(lines []string) error {
	for i, l := range lines {
		if m := billAccountRe.FindStringSubmatch(l); m != nil {
			t.account = strings.TrimSpace(m[1])
		}
		if m := billDatesRe.FindStringSubmatch(l); m != nil {
			start, err1 := time.ParseInLocation(billDateLayout, strings.TrimSpace(m[1]), ChinaTime)
			end, err2 := time.ParseInLocation(billDateLayout, strings.TrimSpace(m[2]), ChinaTime)
			if err1 != nil || err2 != nil || !end.After(start) {
				return fmt.Errorf("line %d: dates [%s] to [%s] are not a period of yyyy年MM月dd日 HH:mm:ss", i+1, m[1], m[2])
			}
			t.start, t.end = start, end
		}
	}
	return nil
}

// record reads the table's next CSV record into t.fields, with its
// line number, as encoding/csv reads it with LazyQuotes (a field may be
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

// billColKey matches header names whether their parentheses are full-width,
// as Alipay writes them, or ASCII.
func billColKey(name string) string { return billParens.Replace(name) }

var billParens = strings.NewReplacer("（", "(", "）", ")")

// col is the index of the named column, or -1.
func (t *billTable) col(name string) int {
	i, ok := t.cols[billColKey(name)]
	if !ok {
		return -1
	}
	t.used[i] = true
	return i
}

// require is col for a column the table cannot be read without; a missing
// one is remembered in t.err.
func (t *billTable) require(name string) int {
	i := t.col(name)
	if i < 0 && t.err == nil {
		t.err = fmt.Errorf("line %d: the header has no %s column", t.headerLine, name)
	}
	return i
}

func (t *billTable) recField(rec []string, i int) string {
	if i < 0 {
		return ""
	}
	return rec[i]
}

// extra collects the non-empty values of the columns no typed field took.
func (t *billTable) extra(rec []string) map[string]string {
	var m map[string]string
	for i, h := range t.header {
		if t.used[i] || h == "" || rec[i] == "" {
			continue
		}
		if m == nil {
			m = make(map[string]string)
		}
		m[h] = rec[i]
	}
	return m
}
