package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWrongMasterKeyRefused: a database remembers the master key it was
// first used with; serve, migrate and merchant create with another key are
// refused with a message naming the setting, never showing a key, and
// change nothing.
func TestWrongMasterKeyRefused(t *testing.T) {
	e2eStores(t, func(t *testing.T, kind string) {
		dbURL := "sqlite:" + filepath.Join(t.TempDir(), "paygate.db")
		if kind == "postgres" {
			dbURL, _ = postgresSchemaURL(t)
		}
		right, wrong := newMasterKeyHex(t), newMasterKeyHex(t)
		cfgWith := func(key string) string {
			return writeConfig(t, "database:\n  url: "+dbURL+"\nsecrets:\n  master_key: "+key+"\n")
		}
		if _, stderr, err := runCmd(t, "merchant", "create", "--config", cfgWith(right), "--name", "shop"); err != nil {
			t.Fatalf("merchant create: %v\nstderr: %s", err, stderr)
		}
		for _, cmd := range [][]string{
			{"serve", "--config", cfgWith(wrong)},
			{"migrate", "--config", cfgWith(wrong)},
			{"merchant", "create", "--config", cfgWith(wrong), "--name", "other"},
		} {
			stdout, stderr, err := runCmd(t, cmd...)
			if err == nil || !strings.Contains(err.Error(), "secrets.master_key does not match the key this database was sealed with (key check ") {
				t.Fatalf("%s with another key: err = %v, want the key mismatch", cmd[0], err)
			}
			for _, out := range []string{err.Error(), stdout, stderr} {
				if strings.Contains(out, wrong) || strings.Contains(out, right) {
					t.Errorf("%s printed a master key: %q", cmd[0], out)
				}
			}
		}
		// The right key still works, and the refused create left nothing.
		st, err := openData(t.Context(), e2eMust(loadConfig(cfgWith(right), nil)))
		if err != nil {
			t.Fatalf("the right key: %v", err)
		}
		defer st.Close()
		if m, err := st.MerchantByID(t.Context(), 2); err == nil {
			t.Errorf("a create with the wrong key made merchant %q", m.Name)
		}
	})
}

// TestSQLiteMissingDirectory: a sqlite: URL whose directory does not exist
// is refused by serve, migrate and merchant create, which create nothing.
func TestSQLiteMissingDirectory(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dbPath := filepath.Join(root, "typo", "dir", "paygate.db")
	cfg := writeConfig(t, "database:\n  url: sqlite:"+dbPath+"\nsecrets:\n  master_key: "+newMasterKeyHex(t)+"\n")
	for _, cmd := range [][]string{
		{"serve", "--config", cfg},
		{"migrate", "--config", cfg},
		{"merchant", "create", "--config", cfg, "--name", "shop"},
	} {
		_, _, err := runCmd(t, cmd...)
		if err == nil || !strings.Contains(err.Error(), "directory "+filepath.Dir(dbPath)+" does not exist") {
			t.Errorf("%s: err = %v, want the missing directory named", cmd[0], err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "typo")); err == nil {
		t.Error("a refused command created the directory")
	}
}

// TestSQLiteServedOnce: a second serving process on a SQLite file in use is
// refused; migrate and merchant create still work beside the running node.
func TestSQLiteServedOnce(t *testing.T) {
	t.Parallel()
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "paygate.db")
	key := newMasterKeyHex(t)
	startLiveGateway(t, dbURL, func(c *config) { c.Secrets.MasterKey = key })
	cfg := writeConfig(t, "database:\n  url: "+dbURL+"\nsecrets:\n  master_key: "+key+"\n")
	_, _, err := runCmd(t, "serve", "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), "is in use by another paygate serve or demo") {
		t.Fatalf("second serve: err = %v, want it refused as in use", err)
	}
	for _, cmd := range [][]string{{"migrate", "--config", cfg}, {"merchant", "create", "--config", cfg, "--name", "beside"}} {
		if _, stderr, err := runCmd(t, cmd...); err != nil {
			t.Errorf("%s beside a running node: %v\nstderr: %s", cmd[0], err, stderr)
		}
	}
}

// TestSimDataDirLocked: a second `paygate sim` on a data directory in use is
// refused at once; without the lock it would serve until its context ends.
func TestSimDataDirLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	startSim(t, "--data", dir)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	err := run(ctx, []string{"sim", "--addr", "127.0.0.1:0", "--data", dir}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "in use by another simulator") {
		t.Fatalf("second sim: err = %v, want it refused as in use", err)
	}
}

// TestDemoLoopbackByDefault: the demo serves unauthenticated /sim routes, so
// it listens on loopback unless told otherwise.
func TestDemoLoopbackByDefault(t *testing.T) {
	t.Parallel()
	if got := newDemoCmd(nil, nil).Flags().Lookup("addr").DefValue; got != "127.0.0.1:8080" {
		t.Fatalf("demo --addr defaults to %q, want 127.0.0.1:8080", got)
	}
}
