//go:build !unix

package simjournal

import "os"

// tryLock does nothing where flock(2) does not exist: the journal is not
// guarded against a second simulator there.
func tryLock(*os.File) error { return nil }
