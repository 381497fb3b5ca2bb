package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/paygate/paygate"
)

// groupCommitMax is the most transaction functions one shared transaction
// runs. SQLite holds its write lock for the whole of it, so it also bounds
// how long an order's insert may wait behind a group (a function costs
// well under a millisecond).
const groupCommitMax = 32

// groupCommitDrains is how many groups may be in flight at once. On SQLite
// one commits while the next waits for the write lock, formed and ready; on
// PostgreSQL, where a group's time is mostly round trips, groups run side
// by side on their own connections.
const groupCommitDrains = 2

// groupCommit runs the transaction functions of concurrent callers in
// shared transactions: one commit, and so one fsync (SQLite's WAL, or
// PostgreSQL's), for all the functions that queued up while the previous
// group was committing. Nothing waits on purpose: a lone caller runs at
// once in a transaction of its own, exactly as Store.Tx would, and a group
// forms only while a commit is in flight.
//
// Each caller's Tx returns nil only once the shared transaction holding
// its writes has committed, so "durable before acknowledged" holds as with
// Store.Tx. When any function of a group fails (or panics, or the commit
// fails), the whole group is rolled back and every caller runs its
// function again, alone, in its own transaction: one failure delays the
// others by exactly one retry and fails none of them. A function must
// therefore be safe to run a second time after a rollback, as the
// functions of update are (they start from what they read through tx).
// The functions of a group run one after the other, in queue order, each
// seeing the writes of those before it: the result is the one of running
// them serially.
type groupCommit struct {
	store paygate.Store

	mu      sync.Mutex
	queue   []*groupCall
	running int // drain goroutines running the queue, at most groupCommitDrains
}

// groupCall is one caller's function and where its outcome goes: nil
// (committed in a group) or errRunAlone.
type groupCall struct {
	ctx  context.Context
	fn   func(tx paygate.StoreTx) error
	done chan error
}

// errRunAlone tells a caller that its group did not commit and that it
// must run its function in its own transaction.
var errRunAlone = errors.New("group rolled back: run alone")

// Tx runs fn in a transaction, shared with other callers' when they queue
// together, and returns once fn's writes are committed (nil) or not made
// (fn's error, or the store's).
func (g *groupCommit) Tx(ctx context.Context, fn func(tx paygate.StoreTx) error) error {
	c := &groupCall{ctx: ctx, fn: fn, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if g.running < groupCommitDrains {
		g.running++
		go g.drain()
	}
	g.mu.Unlock()
	// Waited for whatever ctx says: fn may be running on the drain
	// goroutine, and its results are the caller's to read only after.
	if err := <-c.done; !errors.Is(err, errRunAlone) {
		return err
	}
	// In the caller's goroutine, so that a panic of fn reaches the caller
	// as it would from Store.Tx.
	return g.store.Tx(ctx, fn)
}

// drain runs the queue, a group at a time, until it is empty.
func (g *groupCommit) drain() {
	normal := false
	defer func() {
		if !normal { // runtime.Goexit in a function (a test's t.Fatal): keep the queue served
			g.mu.Lock()
			if len(g.queue) == 0 {
				g.running--
			} else {
				go g.drain()
			}
			g.mu.Unlock()
		}
	}()
	for {
		g.mu.Lock()
		n := min(len(g.queue), groupCommitMax)
		if n == 0 {
			g.running--
			g.mu.Unlock()
			normal = true
			return
		}
		group := g.queue[:n:n]
		g.queue = g.queue[n:]
		g.mu.Unlock()
		g.run(group)
	}
}

// run commits group in one transaction, or tells every caller to run
// alone. A group of one is the caller's own transaction, with its own
// context, exactly Store.Tx; it runs here all the same, so that callers
// arriving meanwhile queue up into the next group.
func (g *groupCommit) run(group []*groupCall) {
	answered := false
	defer func() {
		if !answered { // runtime.Goexit in a function: nobody is left waiting
			for _, c := range group {
				c.done <- errRunAlone
			}
		}
	}()
	if len(group) == 1 {
		c := group[0]
		panicked := false
		err := g.store.Tx(c.ctx, func(tx paygate.StoreTx) error { return runGuarded(c.fn, tx, &panicked) })
		if panicked {
			err = errRunAlone // rolled back; the caller runs it again and panics itself
		}
		answered = true
		c.done <- err
		return
	}
	// The group's transaction outlives any one caller's cancellation (its
	// statements still run under each caller's context).
	ctx := context.WithoutCancel(group[0].ctx)
	var panicked bool
	err := g.store.Tx(ctx, func(tx paygate.StoreTx) error {
		for _, c := range group {
			if err := runGuarded(c.fn, tx, &panicked); err != nil {
				return err // stop here: nothing more runs in a transaction that failed
			}
		}
		return nil
	})
	out := error(nil)
	if err != nil {
		out = errRunAlone
	}
	answered = true
	for _, c := range group {
		c.done <- out
	}
}

// runGuarded runs fn, turning a panic into an error (and setting
// *panicked): the transaction is then rolled back and fn, run again by its
// caller, panics where Store.Tx would have let it.
func runGuarded(fn func(tx paygate.StoreTx) error, tx paygate.StoreTx, panicked *bool) (err error) {
	defer func() {
		if p := recover(); p != nil {
			*panicked = true
			err = fmt.Errorf("panic in a grouped transaction: %v", p)
		}
	}()
	return fn(tx)
}

// groupKey marks the context of a notification's handling (see
// HandleNotification): its order updates are committed in groups. Alipay
// sends notifications in bursts, each waiting for its own commit; merchant
// calls, jobs and the barcode loop keep a transaction of their own.
type groupKey struct{}

// tx runs fn in a transaction of its own, or, for a notification, in a
// group commit (see groupCommit).
func (s *Service) tx(ctx context.Context, fn func(tx paygate.StoreTx) error) error {
	if ctx.Value(groupKey{}) != nil && s.group != nil {
		return s.group.Tx(ctx, fn)
	}
	return s.cfg.Store.Tx(ctx, fn)
}
