package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/paygate/paygate/console"
)

// TestDemoOperator: the demo's admin is made once and written mode 0600;
// a restart keeps a file that still logs in; once the account changed
// (password, disabled), it gets a new password and the file is rewritten.
func TestDemoOperator(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := writeConfig(t, "database:\n  url: sqlite:"+filepath.Join(dir, "paygate.db")+"\nsecrets:\n  master_key: "+newMasterKeyHex(t)+"\n"+onlyData)
	st := openTestData(t, cfg)
	ctx := context.Background()
	path := filepath.Join(dir, demoOperatorFile)
	first, err := demoOperator(ctx, st, path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("demo-operator.json: %v, mode %v", err, fi.Mode())
	}
	var onDisk demoOperatorCreds
	raw, _ := os.ReadFile(path)
	if err := json.Unmarshal(raw, &onDisk); err != nil || onDisk != first || first.Username != "admin" || len(first.Password) < 12 {
		t.Fatalf("file %s, returned %+v", raw, first)
	}
	op, err := st.OperatorByUsername(ctx, "admin")
	if err != nil || op.Role != "admin" {
		t.Fatalf("admin: %+v %v", op, err)
	}
	if ok, _ := console.VerifyPassword(first.Password, op.PasswordHash); !ok {
		t.Fatal("the written password does not verify")
	}
	again, err := demoOperator(ctx, st, path)
	if err != nil || again != first {
		t.Fatalf("a restart changed the credentials: %+v %v", again, err)
	}
	op.DisabledAt = time.Now()
	if err := st.UpdateOperator(ctx, op); err != nil {
		t.Fatal(err)
	}
	renewed, err := demoOperator(ctx, st, path)
	if err != nil || renewed.Password == first.Password {
		t.Fatalf("a disabled admin was kept: %+v %v", renewed, err)
	}
	op, _ = st.OperatorByUsername(ctx, "admin")
	if ok, _ := console.VerifyPassword(renewed.Password, op.PasswordHash); !ok || op.Disabled() {
		t.Fatalf("after renewal: verifies %v, disabled %v", ok, op.Disabled())
	}
}
