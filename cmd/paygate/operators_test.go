package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/console"
)

// runCmdIn runs a command with stdin.
func runCmdIn(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd(&out, &errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

var printedPassword = regexp.MustCompile(`password: (\S+)`)

// TestOperatorCommands: create (generated and stdin passwords), list,
// passwd and disable on both stores; passwd and disable move
// SessionsValidAfter; bad input changes nothing.
func TestOperatorCommands(t *testing.T) {
	e2eStores(t, func(t *testing.T, kind string) {
		dbURL := "sqlite:" + filepath.Join(t.TempDir(), "paygate.db")
		if kind == "postgres" {
			dbURL, _ = postgresSchemaURL(t)
		}
		cfg := writeConfig(t, "database:\n  url: "+dbURL+"\nsecrets:\n  master_key: "+newMasterKeyHex(t)+"\n"+onlyData)

		out, _, err := runCmdIn(t, "", "operator", "create", "--config", cfg, "--username", "Alice", "--role", "admin")
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		m := printedPassword.FindStringSubmatch(out)
		if m == nil || len(m[1]) != 20 {
			t.Fatalf("create printed no generated password:\n%s", out)
		}
		generated := m[1]
		out, _, err = runCmdIn(t, "a long enough passphrase\n", "operator", "create", "--config", cfg, "--username", "vera", "--password-stdin")
		if err != nil || strings.Contains(out, "password:") {
			t.Fatalf("create --password-stdin: %v\n%s", err, out)
		}
		for _, bad := range [][]string{
			{"operator", "create", "--config", cfg, "--username", "alice"},                 // taken
			{"operator", "create", "--config", cfg, "--username", "bad name"},              // invalid
			{"operator", "create", "--config", cfg, "--username", "root", "--role", "god"}, // role
			{"operator", "passwd", "--config", cfg, "nobody"},
			{"operator", "disable", "--config", cfg, "nobody"},
		} {
			if _, _, err := runCmdIn(t, "", bad...); err == nil {
				t.Errorf("%v succeeded", bad)
			}
		}
		if _, _, err := runCmdIn(t, "short\n", "operator", "create", "--config", cfg, "--username", "sam", "--password-stdin"); err == nil ||
			!strings.Contains(err.Error(), "at least 12") {
			t.Errorf("a short password: %v", err)
		}

		out, _, err = runCmdIn(t, "", "operator", "list", "--config", cfg, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var list []operatorJSON
		if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 || list[0].Username != "alice" ||
			list[0].Role != "admin" || list[1].Username != "vera" || list[1].Role != "viewer" || list[0].DisabledAt != nil {
			t.Fatalf("list --json: %v\n%s", err, out)
		}
		if strings.Contains(out, "argon2") {
			t.Fatal("list prints password hashes")
		}

		st := openTestData(t, cfg)
		before, _ := st.OperatorByUsername(context.Background(), "alice")
		if ok, _ := console.VerifyPassword(generated, before.PasswordHash); !ok {
			t.Fatal("the printed password does not verify")
		}
		time.Sleep(2 * time.Millisecond)
		if _, _, err := runCmdIn(t, "another long passphrase\n", "operator", "passwd", "--config", cfg, "ALICE", "--password-stdin"); err != nil {
			t.Fatal(err)
		}
		after, _ := st.OperatorByUsername(context.Background(), "alice")
		if ok, _ := console.VerifyPassword("another long passphrase", after.PasswordHash); !ok || !after.SessionsValidAfter.After(before.SessionsValidAfter) {
			t.Fatalf("passwd: verifies %v, sessions valid after %v (was %v)", ok, after.SessionsValidAfter, before.SessionsValidAfter)
		}
		if _, _, err := runCmdIn(t, "", "operator", "disable", "--config", cfg, "vera"); err != nil {
			t.Fatal(err)
		}
		vera, _ := st.OperatorByUsername(context.Background(), "vera")
		if !vera.Disabled() || !vera.SessionsValidAfter.After(vera.CreatedAt) {
			t.Fatalf("disable: %+v", vera)
		}
		out, _, _ = runCmdIn(t, "", "operator", "list", "--config", cfg)
		if !strings.Contains(out, "vera") || !strings.Contains(out, "disabled") {
			t.Fatalf("list:\n%s", out)
		}
	})
}

// openTestData opens the store of a config file for checks.
func openTestData(t *testing.T, cfgPath string) paygate.Store {
	t.Helper()
	st, err := openOperatorData(context.Background(), dataFlags{configPath: cfgPath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestInsecureCookieRefused: serve accepts console.insecure_cookie only
// for http on loopback.
func TestInsecureCookieRefused(t *testing.T) {
	t.Parallel()
	for url, ok := range map[string]bool{
		"http://127.0.0.1:8080": true, "http://localhost:8080": true, "http://[::1]:8080": true,
		"https://127.0.0.1": false, "http://pay.example.com": false, "http://0.0.0.0:8080": false,
		"http://127.0.0.1.example.com:8080": false, "": false,
	} {
		var c config = defaultConfig()
		c.Server.PublicURL = url
		c.Console.InsecureCookie = true
		if err := checkConsoleConfig(c); (err == nil) != ok {
			t.Errorf("public_url %q: %v", url, err)
		}
		c.Console.InsecureCookie = false
		if err := checkConsoleConfig(c); err != nil {
			t.Errorf("a Secure cookie refused: %v", err)
		}
	}
}
