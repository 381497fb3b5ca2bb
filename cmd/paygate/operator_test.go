package main

import (
	"path/filepath"
	"strings"
	"testing"
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
