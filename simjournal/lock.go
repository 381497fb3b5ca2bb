package simjournal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

var errLocked = errors.New("locked")

// ErrInUse is Open's error when the data directory's journal is held by
// another simulator (in this process or another).
var ErrInUse = errors.New("data directory in use by another simulator")

// lockJournal locks dir's journal of name for this simulator: a second one on
// the same directory would interleave its records with the first one's and
// each would hold a different truth. The lock is released when the returned
// file is closed, or when the process ends, however it ends.
func lockJournal(dir, name string) (*os.File, error) {
	path := filepath.Join(dir, name+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: journal lock: %w", name, err)
	}
	if err := tryLock(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("%s: %w: %s (%s is locked); two simulators must not share one journal", name, ErrInUse, dir, path)
		}
		return nil, fmt.Errorf("%s: journal lock %s: %w", name, path, err)
	}
	return f, nil
}
