package main

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paygate/paygate/testenv"
)

// runCmd runs the paygate command tree in-process with args.
func runCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(t.Context(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// readKeyFiles returns the contents of the three key files in dir.
func readKeyFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, name := range []string{appPrivateKeyFile, appPublicKeyPEMFile, appPublicKeyTxtFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	return files
}

func TestKeysGen(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "keys") // missing: gen must create it
	stdout, stderr, err := runCmd(t, "keys", "gen", "--out", dir)
	if err != nil {
		t.Fatalf("keys gen: %v\nstderr: %s", err, stderr)
	}

	wantModes := map[string]os.FileMode{
		".":                 0o700 | os.ModeDir,
		appPrivateKeyFile:   0o600,
		appPublicKeyPEMFile: 0o644,
		appPublicKeyTxtFile: 0o644,
	}
	for name, want := range wantModes {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() & (os.ModePerm | os.ModeDir); got != want {
			t.Errorf("mode of %s = %v, want %v", name, got, want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Errorf("dir holds %d entries, want 3 (no temporary files left): %v", len(entries), entries)
	}

	files := readKeyFiles(t, dir)
	block, rest := pem.Decode(files[appPrivateKeyFile])
	if block == nil || block.Type != "PRIVATE KEY" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("%s is not one PEM block of type PRIVATE KEY", appPrivateKeyFile)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("private key is not PKCS#8: %v", err)
	}
	priv, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("private key is %T, want *rsa.PrivateKey", parsed)
	}
	if priv.N.BitLen() != 2048 {
		t.Errorf("key size = %d bits, want 2048", priv.N.BitLen())
	}

	block, rest = pem.Decode(files[appPublicKeyPEMFile])
	if block == nil || block.Type != "PUBLIC KEY" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("%s is not one PEM block of type PUBLIC KEY", appPublicKeyPEMFile)
	}
	pemPub := parsePKIXRSA(t, block.Bytes)

	txt := string(files[appPublicKeyTxtFile])
	line, ok := strings.CutSuffix(txt, "\n")
	if !ok || strings.ContainsAny(line, "\r\n \t") {
		t.Fatalf("%s = %q, want one base64 line ending in a newline", appPublicKeyTxtFile, txt)
	}
	der, err := base64.StdEncoding.DecodeString(line)
	if err != nil {
		t.Fatalf("%s is not base64: %v", appPublicKeyTxtFile, err)
	}
	txtPub := parsePKIXRSA(t, der)

	if !pemPub.Equal(txtPub) {
		t.Error("public key PEM and .txt hold different keys")
	}
	if !priv.PublicKey.Equal(pemPub) {
		t.Error("public key does not match the private key")
	}

	if strings.Contains(stdout, "PRIVATE") || strings.Contains(stderr, "PRIVATE") {
		t.Error("output mentions the private key material")
	}
	if !strings.Contains(stdout, dir) {
		t.Errorf("stdout does not say where the files went:\n%s", stdout)
	}
	if !containsLine(stdout, line) {
		t.Errorf("stdout lacks the bare public key on a line of its own:\n%s", stdout)
	}

	t.Run("openssl", func(t *testing.T) {
		openssl := testenv.LookPath(t, "openssl")
		for _, args := range [][]string{
			{"pkey", "-in", filepath.Join(dir, appPrivateKeyFile), "-noout"},
			{"pkey", "-pubin", "-in", filepath.Join(dir, appPublicKeyPEMFile), "-noout"},
		} {
			if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
				t.Errorf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	})

	t.Run("refuses to overwrite without --force", func(t *testing.T) {
		_, _, err := runCmd(t, "keys", "gen", "--out", dir)
		if err == nil || !strings.Contains(err.Error(), "--force") {
			t.Fatalf("second run: err = %v, want an error naming --force", err)
		}
		for name, data := range readKeyFiles(t, dir) {
			if !bytes.Equal(data, files[name]) {
				t.Errorf("%s changed after a refused run", name)
			}
		}
	})

	t.Run("--force replaces the key", func(t *testing.T) {
		if _, stderr, err := runCmd(t, "keys", "gen", "--out", dir, "--force"); err != nil {
			t.Fatalf("keys gen --force: %v\nstderr: %s", err, stderr)
		}
		again := readKeyFiles(t, dir)
		if bytes.Equal(again[appPrivateKeyFile], files[appPrivateKeyFile]) {
			t.Error("--force left the old private key in place")
		}
		fi, err := os.Stat(filepath.Join(dir, appPrivateKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("private key mode after --force = %v, want 0600", fi.Mode().Perm())
		}
	})
}

func TestKeysGenRequiresOut(t *testing.T) {
	t.Parallel()
	if _, _, err := runCmd(t, "keys", "gen"); err == nil {
		t.Fatal("keys gen without --out succeeded")
	}
}

func parsePKIXRSA(t *testing.T, der []byte) *rsa.PublicKey {
	t.Helper()
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatalf("public key is not PKIX: %v", err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("public key is %T, want *rsa.PublicKey", k)
	}
	return pub
}

func containsLine(s, line string) bool {
	for l := range strings.Lines(s) {
		if strings.TrimSuffix(l, "\n") == line {
			return true
		}
	}
	return false
}
