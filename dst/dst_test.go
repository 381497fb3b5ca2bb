package dst_test

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/dst"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/postgres/pgtest"
	"github.com/paygate/paygate/sqlite"
)

var (
	flagSeeds = flag.Int("dst.seeds", 300, "how many seeds TestDST runs (50 with -short)")
	flagStart = flag.Int64("dst.start", 1, "the first seed TestDST runs")
	flagSeed  = flag.Int64("dst.seed", 0, "replay this one seed with its whole trace")
	flagWork  = flag.Int("dst.workers", 1, "seeds run side by side, each worker on its own database")
	flagStore = flag.String("dst.store", "sqlite", "sqlite, or postgres (PAYGATE_TEST_POSTGRES_URL)")
)

var (
	keysOnce sync.Once
	keys     dst.Keys
	keysErr  error
)

func testKeys(t *testing.T) dst.Keys {
	t.Helper()
	keysOnce.Do(func() { keys, keysErr = dst.NewKeys() })
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return keys
}

// openStore is a store for many seeds (each has its own merchant): SQLite
// on tmpfs when the machine has one (the runs fsync every commit), or with
// -dst.store postgres a schema of its own on the test database.
func openStore(t *testing.T) paygate.Store {
	t.Helper()
	k := make([]byte, 32)
	rand.Read(k)
	sealer, err := paygate.NewSealer(k)
	if err != nil {
		t.Fatal(err)
	}
	switch *flagStore {
	case "sqlite":
	case "postgres":
		return pgtest.Open(t, sealer, postgres.WithMigrate())
	default:
		t.Fatalf("-dst.store %q: want sqlite or postgres", *flagStore)
	}
	dir := t.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "paygate-dst-"); err == nil {
			dir = d
			t.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	st, err := sqlite.Open(context.Background(), dir+"/dst.db", sealer, sqlite.WithMigrate())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestDST runs -dst.seeds seeds from -dst.start (or replays -dst.seed with
// its trace) and fails with a replay command for every seed whose end state
// disagrees with the simulator.
func TestDST(t *testing.T) {
	ctx := context.Background()
	k := testKeys(t)
	st := openStore(t)
	if *flagSeed != 0 {
		res, err := dst.Run(ctx, st, k, *flagSeed)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range res.Trace {
			t.Log(line)
		}
		t.Logf("trace hash %s", res.Hash)
		if res.Failed() {
			t.Errorf("seed %d: %d mismatches", res.Seed, len(res.Mismatches))
		}
		return
	}
	seedsSet := false
	flag.Visit(func(f *flag.Flag) { seedsSet = seedsSet || f.Name == "dst.seeds" })
	if testing.Short() && !seedsSet {
		*flagSeeds = 50
	}
	if *flagSeeds < 1 || *flagWork < 1 {
		t.Fatalf("-dst.seeds and -dst.workers must be at least 1")
	}
	results := make([]*dst.Result, *flagSeeds)
	stores := []paygate.Store{st}
	for range *flagWork - 1 {
		stores = append(stores, openStore(t))
	}
	start := time.Now()
	seeds := make(chan int)
	errs := make(chan error, len(stores))
	var wg sync.WaitGroup
	for _, st := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range seeds {
				res, err := dst.Run(ctx, st, k, *flagStart+int64(i))
				if err != nil {
					errs <- fmt.Errorf("seed %d: %w", *flagStart+int64(i), err)
					continue
				}
				results[i] = res
			}
		}()
	}
	for i := range results {
		seeds <- i
	}
	close(seeds)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var orders, storeFaults, chanFaults int
	var failed []*dst.Result
	for _, res := range results {
		orders += res.Orders
		storeFaults += res.StoreFaults
		chanFaults += res.ChannelFaults
		if res.Failed() {
			failed = append(failed, res)
		}
	}
	elapsed := time.Since(start)
	t.Logf("DST (%s, %d workers): %d seeds × %d orders, %d store faults and %d channel faults injected, %d seeds failed; %.0f seeds/min",
		*flagStore, len(stores), *flagSeeds, orders, storeFaults, chanFaults, len(failed), float64(*flagSeeds)/elapsed.Minutes())
	for _, res := range failed {
		var ms []string
		for _, m := range res.Mismatches {
			ms = append(ms, m.String())
		}
		t.Errorf("seed %d: %s\n\treplay: go test ./dst -run 'TestDST$' -v -dst.store %s -dst.seed %d", res.Seed, strings.Join(ms, "; "), *flagStore, res.Seed)
	}
}

// TestDSTDeterministic: a seed run twice, the second time on another
// database, gives the same trace.
func TestDSTDeterministic(t *testing.T) {
	ctx := context.Background()
	k := testKeys(t)
	a, b := openStore(t), openStore(t)
	faults := 0
	for seed := int64(1); seed <= 8; seed++ {
		r1, err := dst.Run(ctx, a, k, seed)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := dst.Run(ctx, b, k, seed)
		if err != nil {
			t.Fatal(err)
		}
		faults += r1.StoreFaults + r1.ChannelFaults
		if r1.Hash != r2.Hash {
			t.Errorf("seed %d: traces differ:\n%s", seed, diff(r1.Trace, r2.Trace))
		}
	}
	if faults == 0 {
		t.Fatal("no faults injected in 8 seeds: the determinism check saw no faults")
	}
}

// diff shows the first line where two traces part.
func diff(a, b []string) string {
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n\t%s\n\t%s", i+1, x, y)
		}
	}
	return "(same lines)"
}
