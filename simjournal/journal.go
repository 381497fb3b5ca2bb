// Package simjournal is the durable state of a payment simulator: an
// append-only JSON-lines journal under a data directory, fsync'd after every
// write, compacted when opened, and locked so that two simulators never share
// one. alipaysim and wechatpaysim keep their trade books in it.
package simjournal

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

// Record is one journal line: the new value of (kind, key), or its deletion.
// The last record of a key wins.
type Record struct {
	Kind string          `json:"kind"`
	Key  string          `json:"key"`
	Del  bool            `json:"del,omitempty"`
	Val  json.RawMessage `json:"val,omitempty"`
}

// Put records v as it is now under (kind, key). v must encode as JSON (the
// simulators' own types always do; anything else is a programming error and
// panics).
func Put(kind, key string, v any) Record {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("simjournal: encode %s: %v", kind, err))
	}
	return Record{Kind: kind, Key: key, Val: b}
}

// Delete records that (kind, key) no longer exists.
func Delete(kind, key string) Record { return Record{Kind: kind, Key: key, Del: true} }

// Snapshot is the live state read from a journal: kind → key → value.
type Snapshot map[string]map[string]json.RawMessage

// Journal is an append-only JSON-lines journal, fsync'd after every write,
// and compacted (rewritten with one line per live key) when opened. A nil
// Journal keeps nothing, for a simulator that lives in memory only.
type Journal struct {
	mu     sync.Mutex
	f      *os.File
	lock   *os.File // held while the journal is open (lockJournal)
	name   string   // the simulator's name: errors and file names
	path   string
	closed bool
}

// Open locks dir's journal of the simulator called name (the files
// name.journal and name.lock), loads it, compacts it and opens it for
// appending. Another open Journal on the same files is ErrInUse.
func Open(dir, name string) (*Journal, Snapshot, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("%s: data dir: %w", name, err)
	}
	lock, err := lockJournal(dir, name)
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, name+".journal")
	snap, err := loadJournal(path, name)
	if err != nil {
		lock.Close()
		return nil, nil, err
	}
	if err := writeCompacted(path, name, snap); err != nil {
		lock.Close()
		return nil, nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		lock.Close()
		return nil, nil, fmt.Errorf("%s: open journal: %w", name, err)
	}
	return &Journal{f: f, lock: lock, name: name, path: path}, snap, nil
}

// loadJournal replays the journal. A last line without its newline that
// does not parse is a write torn by a crash and is ignored; any other bad
// line is corruption and an error.
func loadJournal(path, name string) (Snapshot, error) {
	snap := Snapshot{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return snap, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: open journal: %w", name, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for lineNo := 1; ; lineNo++ {
		line, err := r.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: read journal: %w", name, err)
		}
		torn := errors.Is(err, io.EOF)
		if len(bytes.TrimSpace(line)) > 0 {
			var rec Record
			if uerr := json.Unmarshal(line, &rec); uerr != nil || rec.Kind == "" {
				if torn {
					break
				}
				return nil, fmt.Errorf("%s: journal %s line %d is corrupt", name, path, lineNo)
			}
			apply(snap, rec)
		}
		if torn {
			break
		}
	}
	return snap, nil
}

func apply(snap Snapshot, rec Record) {
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
func writeCompacted(path, name string, snap Snapshot) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("%s: compact journal: %w", name, err)
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
			line, err := json.Marshal(Record{Kind: kind, Key: key, Val: val})
			if err != nil {
				return fmt.Errorf("%s: compact journal: %w", name, err)
			}
			_, _ = w.Write(line)
			_ = w.WriteByte('\n')
		}
	}
	if err = w.Flush(); err != nil {
		return fmt.Errorf("%s: compact journal: %w", name, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("%s: compact journal: %w", name, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("%s: compact journal: %w", name, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("%s: compact journal: %w", name, err)
	}
	if d, derr := os.Open(filepath.Dir(path)); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// ErrClosed is returned for writes after Close.
var ErrClosed = errors.New("simjournal: journal is closed")

// Append writes records as one write and fsyncs, so they are durable
// together before the caller answers. On a nil Journal it does nothing.
func (s *Journal) Append(recs ...Record) error {
	if s == nil || len(recs) == 0 {
		return nil
	}
	var buf bytes.Buffer
	for _, rec := range recs {
		line, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("%s: encode journal record: %w", s.name, err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, err := s.f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("%s: write journal: %w", s.name, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("%s: sync journal: %w", s.name, err)
	}
	return nil
}

// Close closes the journal and releases its lock; later writes fail. It is
// safe to call twice and on a nil Journal.
func (s *Journal) Close() error {
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
