//go:build !unix

package main

import "os"

// tryLock does nothing where flock(2) does not exist: a SQLite file is not
// guarded against a second serving process there.
func tryLock(*os.File) error { return nil }
