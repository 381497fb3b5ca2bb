package alipay

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
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
// so they never occur inside a character (a lead byte before one decodes,
// alone, to U+FFFD either way), and the split is the one the decoded text
// would give. Only the fields that are not ASCII are decoded, each on its
// own, which yields what decoding the whole file would (bill_record.go).
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
