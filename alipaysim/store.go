package alipaysim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// journalFile is the simulator's state under Config.DataDir.
const journalFile = "alipaysim.journal"

// Record kinds.
const (
	kindTrade  = "trade"
	kindCancel = "cancel" // an out_trade_no cancelled before a trade existed
	kindNotify = "notify" // a notification still to deliver
	kindApp    = "app"
)

// record is one journal line: the new value of (kind, key), or its deletion.
// The last record of a key wins.
type record struct {
	Kind string          `json:"kind"`
	Key  string          `json:"key"`
	Del  bool            `json:"del,omitempty"`
	Val  json.RawMessage `json:"val,omitempty"`
}

// putRecord records v as it is now.
func putRecord(kind, key string, v any) record {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("alipaysim: encode %s: %v", kind, err)) // our own types always encode
	}
	return record{Kind: kind, Key: key, Val: b}
}

func deleteRecord(kind, key string) record { return record{Kind: kind, Key: key, Del: true} }

// snapshot is the live state read from a journal: kind → key → value.
type snapshot map[string]map[string]json.RawMessage

// store is an append-only JSON-lines journal, fsync'd after every write, and
// compacted (rewritten with one line per live key) when opened. A nil store
// keeps nothing, for a simulator that lives in memory only.
type store struct {
	mu     sync.Mutex
	f      *os.File
	lock   *os.File // held while the store is open (lockJournal)
	closed bool
}

// openStore locks dir's journal (see lockJournal), loads it, compacts it
// and opens it for appending.
func openStore(dir string) (*store, snapshot, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("alipaysim: data dir: %w", err)
	}
	lock, err := lockJournal(dir)
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, journalFile)
	snap, err := loadJournal(path)
	if err != nil {
		lock.Close()
		return nil, nil, err
	}
	if err := writeCompacted(path, snap); err != nil {
		lock.Close()
		return nil, nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		lock.Close()
		return nil, nil, fmt.Errorf("alipaysim: open journal: %w", err)
	}
	return &store{f: f, lock: lock}, snap, nil
}

// loadJournal replays the journal. A last line without its newline that
// does not parse is a write torn by a crash and is ignored; any other bad
// line is corruption and an error.
func loadJournal(path string) (snapshot, error) {
	snap := snapshot{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return snap, nil
	}
	if err != nil {
		return nil, fmt.Errorf("alipaysim: open journal: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for lineNo := 1; ; lineNo++ {
		line, err := r.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("alipaysim: read journal: %w", err)
		}
		torn := errors.Is(err, io.EOF)
		if len(bytes.TrimSpace(line)) > 0 {
			var rec record
			if uerr := json.Unmarshal(line, &rec); uerr != nil || rec.Kind == "" {
				if torn {
					break
				}
				return nil, fmt.Errorf("alipaysim: journal %s line %d is corrupt", path, lineNo)
			}
			apply(snap, rec)
		}
		if torn {
			break
		}
	}
	return snap, nil
}

func apply(snap snapshot, rec record) {
	m := snap[rec.Kind]
	if m == nil {
		m = map[string]json.RawMessage{}
		snap[rec.Kind] = m
	}
	if rec.Del {
		delete(m, rec.Key)
		return
	}
	m[rec.Key] = rec.Val
}

// writeCompacted atomically replaces path with one line per live key.
func writeCompacted(path string, snap snapshot) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+journalFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("alipaysim: compact journal: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	kinds := make([]string, 0, len(snap))
	for k := range snap {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds) // apps before notifications before trades: any order loads
	for _, kind := range kinds {
		for key, val := range snap[kind] {
			line, err := json.Marshal(record{Kind: kind, Key: key, Val: val})
			if err != nil {
				return fmt.Errorf("alipaysim: compact journal: %w", err)
			}
			_, _ = w.Write(line)
			_ = w.WriteByte('\n')
		}
	}
	if err = w.Flush(); err != nil {
		return fmt.Errorf("alipaysim: compact journal: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("alipaysim: compact journal: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("alipaysim: compact journal: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("alipaysim: compact journal: %w", err)
	}
	if d, derr := os.Open(filepath.Dir(path)); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// errStoreClosed is returned for writes after Close.
var errStoreClosed = errors.New("alipaysim: journal is closed")

// append writes records as one write and fsyncs, so they are durable
// together before the caller answers.
func (s *store) append(recs ...record) error {
	if s == nil || len(recs) == 0 {
		return nil
	}
	var buf bytes.Buffer
	for _, rec := range recs {
		line, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("alipaysim: encode journal record: %w", err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errStoreClosed
	}
	if _, err := s.f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("alipaysim: write journal: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("alipaysim: sync journal: %w", err)
	}
	return nil
}

// close closes the journal; later writes fail.
func (s *store) close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.f.Close()
	s.lock.Close() // after the journal: the next simulator finds it complete
	return err
}
