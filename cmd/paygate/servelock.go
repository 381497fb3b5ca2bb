package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

var errLocked = errors.New("locked")

// lockServing makes a serving process (serve, demo) the only one on a
// SQLite file: it holds an exclusive lock on PATH.lock until the returned
// function is called or the process ends. Two nodes on one SQLite file would
// each run the background jobs and each keep its own nonce cache. migrate,
// merchant create and events do not take it: they work beside a running
// node. PostgreSQL needs nothing: replicas share it by design.
func lockServing(dbURL string) (func() error, error) {
	path, ok := strings.CutPrefix(dbURL, "sqlite:")
	if !ok {
		return func() error { return nil }, nil
	}
	// The lock names the file itself, however it is reached: two URLs
	// through a symbolic link (or a relative and an absolute path) are one
	// database.
	lockPath := canonicalPath(path) + ".lock"
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("database lock: %w", err)
	}
	if err := tryLock(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("database %s is in use by another paygate serve or demo (%s is locked): "+
				"one SQLite file serves one node; share a PostgreSQL database to run several", path, lockPath)
		}
		return nil, fmt.Errorf("database lock %s: %w", lockPath, err)
	}
	return f.Close, nil
}

// canonicalPath is path made absolute with its symbolic links resolved (the
// file's, or its directory's while the file does not exist yet).
func canonicalPath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(dir, filepath.Base(abs))
	}
	return abs
}
