package httpapi_test

import (
	"testing"
	"time"
)

// waitStarted waits until the fake order service signals started, failing
// the test when the request finished first (done closed: it failed before
// reaching the service) or after 10 s, instead of hanging until go test's
// timeout.
func waitStarted(t *testing.T, started <-chan struct{}, done <-chan struct{}, what func() string) {
	t.Helper()
	select {
	case <-started:
	case <-done:
		t.Fatalf("the request ended before it reached the order service: %s", what())
	case <-time.After(10 * time.Second):
		t.Fatalf("the request did not reach the order service within 10 s")
	}
}
