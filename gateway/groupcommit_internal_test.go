package gateway

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/postgres/pgtest"
	"github.com/paygate/paygate/sqlite"
	"github.com/paygate/paygate/testenv"
)

// countingStore counts the transactions that reach the store.
type countingStore struct {
	paygate.Store
	txs atomic.Int64
}

func (s *countingStore) Tx(ctx context.Context, fn func(tx paygate.StoreTx) error) error {
	s.txs.Add(1)
	return s.Store.Tx(ctx, fn)
}

// groupStores runs fn on SQLite and, when PAYGATE_TEST_POSTGRES_URL is set,
// on PostgreSQL, with a merchant to make orders for.
func groupStores(t *testing.T, fn func(t *testing.T, st *countingStore, m *paygate.Merchant)) {
	k := make([]byte, 32)
	rand.Read(k)
	sealer, err := paygate.NewSealer(k)
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, st paygate.Store) {
		m := &paygate.Merchant{Name: "shop", AccessKey: fmt.Sprintf("ak_group_%d", time.Now().UnixNano()),
			SecretKey: "sk", WebhookSecret: "wh", CreatedAt: time.Now()}
		if err := st.CreateMerchant(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		fn(t, &countingStore{Store: st}, m)
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "paygate.db"), sealer, sqlite.WithMigrate())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		run(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testenv.Postgres(t)
		run(t, pgtest.Open(t, sealer, postgres.WithMigrate()))
	})
}

func groupOrder(m *paygate.Merchant, no string) *paygate.Order {
	now := time.Now()
	return &paygate.Order{MerchantID: m.ID, OutTradeNo: no, ChannelNo: "C" + no, Mode: paygate.ModeQR, Subject: "s",
		TotalAmount: 100, Status: paygate.StatusPending, ParamsHash: "h", CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
}

// queueWhileBusy holds one transaction open (on SQLite it holds the write
// lock; on PostgreSQL the row of the order that every function locks) until
// n callers have queued behind it, then lets everything run, and returns
// each caller's result.
func queueWhileBusy(t *testing.T, st *countingStore, g *groupCommit, m *paygate.Merchant, fns []func(tx paygate.StoreTx) error) []error {
	t.Helper()
	ctx := context.Background()
	lock := groupOrder(m, fmt.Sprintf("lock%d", time.Now().UnixNano()))
	if err := st.Store.CreateOrder(ctx, lock); err != nil {
		t.Fatal(err)
	}
	holding, release := make(chan struct{}), make(chan struct{})
	blocker := make(chan error, 1)
	go func() {
		blocker <- st.Store.Tx(ctx, func(tx paygate.StoreTx) error {
			if _, err := tx.OrderForUpdate(ctx, lock.ID); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	var started atomic.Int64
	for i, fn := range fns {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil { // a panic reaches its caller
					errs[i] = fmt.Errorf("panic: %v", p)
				}
			}()
			started.Add(1)
			errs[i] = g.Tx(ctx, func(tx paygate.StoreTx) error {
				if _, err := tx.OrderForUpdate(ctx, lock.ID); err != nil { // waits for the blocker
					return err
				}
				return fn(tx)
			})
		})
	}
	// Every caller queued, or in the group waiting for the lock.
	for deadline := time.Now().Add(10 * time.Second); started.Load() < int64(len(fns)) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	close(release)
	wg.Wait()
	if err := <-blocker; err != nil {
		t.Fatal(err)
	}
	return errs
}

// TestGroupCommit: callers that queue while a commit is in flight share
// transactions, and each finds its writes stored once Tx returns.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	groupStores(t, func(t *testing.T, st *countingStore, m *paygate.Merchant) {
		g := &groupCommit{store: st}
		const n = 40
		fns := make([]func(tx paygate.StoreTx) error, n)
		for i := range fns {
			fns[i] = func(tx paygate.StoreTx) error {
				return tx.CreateOrder(context.Background(), groupOrder(m, fmt.Sprintf("g%d", i)))
			}
		}
		before := st.txs.Load()
		for i, err := range queueWhileBusy(t, st, g, m, fns) {
			if err != nil {
				t.Fatalf("caller %d: %v", i, err)
			}
		}
		// 40 callers: at most a lone first one, a group of 32, the rest.
		if txs := st.txs.Load() - before; txs > 4 {
			t.Errorf("%d callers took %d transactions: no group formed", n, txs)
		}
		for i := range n {
			if _, err := st.OrderByOutTradeNo(context.Background(), m.ID, fmt.Sprintf("g%d", i)); err != nil {
				t.Errorf("order g%d: %v", i, err)
			}
		}
	})
}

// TestGroupCommitFailure: one function's failure (or panic) fails none of
// the others: they run again alone, once each, and are stored exactly once;
// the failing caller gets its own error (or panic) and nothing of its.
func TestGroupCommitFailure(t *testing.T) {
	t.Parallel()
	groupStores(t, func(t *testing.T, st *countingStore, m *paygate.Merchant) {
		g := &groupCommit{store: st}
		boom := errors.New("boom")
		const n, bad, panicky = 12, 5, 8
		runs := make([]atomic.Int64, n)
		fns := make([]func(tx paygate.StoreTx) error, n)
		for i := range fns {
			fns[i] = func(tx paygate.StoreTx) error {
				runs[i].Add(1)
				if err := tx.CreateOrder(context.Background(), groupOrder(m, fmt.Sprintf("f%d", i))); err != nil {
					return err
				}
				switch i {
				case bad:
					return boom
				case panicky:
					if runs[i].Load() > 1 { // the retry alone, after its group rolled back
						return errors.New("panicked when grouped")
					}
					panic("grouped panic")
				}
				return nil
			}
		}
		errs := queueWhileBusy(t, st, g, m, fns)
		for i, err := range errs {
			want := error(nil)
			switch i {
			case bad:
				want = boom
			case panicky:
				// Grouped: the group rolled back and its retry alone says so;
				// alone from the start: the caller got the panic.
				if err == nil || (err.Error() != "panicked when grouped" && err.Error() != "panic: grouped panic") {
					t.Errorf("caller %d: %v, want its panic or its retry alone", i, err)
				}
				continue
			}
			if !errors.Is(err, want) {
				t.Errorf("caller %d: %v, want %v", i, err, want)
			}
			if r := runs[i].Load(); r > 2 {
				t.Errorf("caller %d ran %d times: more than one retry", i, r)
			}
			_, lookup := st.OrderByOutTradeNo(context.Background(), m.ID, fmt.Sprintf("f%d", i))
			if stored := lookup == nil; stored != (want == nil) {
				t.Errorf("caller %d: stored %v with result %v", i, stored, err)
			}
		}
		if _, err := st.OrderByOutTradeNo(context.Background(), m.ID, fmt.Sprintf("f%d", panicky)); err == nil {
			t.Error("the panicking caller's order is stored")
		}
	})
}

// TestGroupCommitAlone: a caller with nobody queued runs in its own
// transaction, with its own context, as Store.Tx would.
func TestGroupCommitAlone(t *testing.T) {
	t.Parallel()
	groupStores(t, func(t *testing.T, st *countingStore, m *paygate.Merchant) {
		g := &groupCommit{store: st}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := g.Tx(ctx, func(tx paygate.StoreTx) error { return nil })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("a cancelled caller alone: %v, want its context's error (its own Store.Tx)", err)
		}
		before := st.txs.Load()
		for i := range 3 {
			if err := g.Tx(context.Background(), func(tx paygate.StoreTx) error {
				return tx.CreateOrder(context.Background(), groupOrder(m, fmt.Sprintf("a%d", i)))
			}); err != nil {
				t.Fatal(err)
			}
		}
		if txs := st.txs.Load() - before; txs != 3 {
			t.Errorf("3 lone callers: %d transactions", txs)
		}
	})
}
