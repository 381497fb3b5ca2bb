package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// File names written by "keys gen", as contract.md names them.
const (
	appPrivateKeyFile   = "app_private_key.pem"
	appPublicKeyPEMFile = "app_public_key.pem"
	appPublicKeyTxtFile = "app_public_key.txt"
)

// appKeyBits is the RSA size Alipay requires for RSA2 (SHA256withRSA).
const appKeyBits = 2048

func newKeysCmd(stdout, stderr io.Writer) *cobra.Command {
	keys := &cobra.Command{
		Use:   "keys",
		Short: "Manage the RSA key pair of an Alipay app",
		Args:  cobra.NoArgs,
	}
	keys.AddCommand(newKeysGenCmd(stdout, stderr))
	return keys
}

func newKeysGenCmd(stdout, _ io.Writer) *cobra.Command {
	var out string
	var force bool
	cmd := &cobra.Command{
		Use:   "gen --out DIR",
		Short: "Generate an RSA-2048 key pair for an Alipay app",
		Long: "Generate an RSA-2048 key pair for an Alipay app into DIR:\n" +
			"  " + appPrivateKeyFile + "    PKCS#8 private key (mode 0600; keep it secret)\n" +
			"  " + appPublicKeyPEMFile + "     PKIX public key\n" +
			"  " + appPublicKeyTxtFile + "     the bare base64 public key Alipay's console asks for\n" +
			"The public key line is printed last on stdout, alone on its line.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pub, err := genAppKeys(out, force)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "wrote %s (private: keep it secret)\n", filepath.Join(out, appPrivateKeyFile))
			fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(out, appPublicKeyPEMFile))
			fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(out, appPublicKeyTxtFile))
			fmt.Fprintln(stdout, "app public key (paste into Alipay's console):")
			fmt.Fprintln(stdout, pub)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to write the key files to (created with mode 0700 if missing)")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing "+appPrivateKeyFile)
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// genAppKeys writes a fresh key pair into dir and returns the bare base64
// public key. It refuses to replace an existing private key unless force.
// Each file is replaced atomically; the private key is written last, so its
// presence means the whole set was written.
func genAppKeys(dir string, force bool) (string, error) {
	if dir == "" {
		return "", errors.New("keys gen: --out must not be empty")
	}
	privPath := filepath.Join(dir, appPrivateKeyFile)
	if !force {
		_, err := os.Lstat(privPath)
		if err == nil {
			return "", fmt.Errorf("keys gen: %s already exists; pass --force to replace it (the old key stops working with Alipay)", privPath)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("keys gen: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("keys gen: create output directory: %w", err)
	}

	key, err := rsa.GenerateKey(rand.Reader, appKeyBits)
	if err != nil {
		return "", fmt.Errorf("keys gen: generate key: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("keys gen: encode private key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", fmt.Errorf("keys gen: encode public key: %w", err)
	}
	pubLine := base64.StdEncoding.EncodeToString(pubDER)

	files := []struct {
		name string
		data []byte
		mode fs.FileMode
	}{
		{appPublicKeyPEMFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644},
		{appPublicKeyTxtFile, []byte(pubLine + "\n"), 0o644},
		{appPrivateKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600},
	}
	for _, f := range files {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return "", fmt.Errorf("keys gen: %w", err)
		}
	}
	return pubLine, nil
}

// writeFileAtomic writes data to path so that path holds either its old
// content or all of data, never a part: a synced temporary file in the same
// directory, renamed over path, then the directory synced.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// CreateTemp makes the file 0600, so a private key is never readable by others, even briefly.
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
