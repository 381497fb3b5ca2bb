package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// The embedded default's files under --data.
const (
	defaultDataDir   = "paygate-data"
	dbFile           = "paygate.db"
	masterKeyFile    = "master.key"
	demoMerchantFile = "demo-merchant.json"
	// demoOperatorFile holds the demo console admin's username and
	// password (mode 0600).
	demoOperatorFile = "demo-operator.json"
	// demoNodeFile records where the demo listens, so that a separate
	// command on the same --data (paygate reconcile) reaches the demo's
	// simulator as the demo's own configuration does.
	demoNodeFile = "demo.json"
)

// dataFlags are --config and --data, taken by every command that touches data.
type dataFlags struct {
	configPath string
	dataDir    string
}

func (d *dataFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&d.configPath, "config", "", "configuration file (YAML); overrides --data")
	cmd.Flags().StringVar(&d.dataDir, "data", defaultDataDir, "data directory of the embedded default (SQLite and master key)")
}

// resolve is the configuration: the file when --config is given, else the
// embedded default under --data. The environment overrides either.
func (d *dataFlags) resolve() (config, error) {
	if d.configPath != "" {
		return loadConfig(d.configPath, os.Environ())
	}
	if base, ok := demoBase(d.dataDir); ok {
		return demoConfig(d.dataDir, base)
	}
	c := defaultConfig()
	c.Database.URL = "sqlite:" + filepath.Join(d.dataDir, dbFile)
	c.Secrets.MasterKeyFile = filepath.Join(d.dataDir, masterKeyFile)
	if err := applyEnv(&c, os.Environ()); err != nil {
		return c, err
	}
	return c, nil
}

// ensureMasterKey makes the data directory's master key when it has none:
// 32 random bytes, hex, mode 0600. An existing key is never replaced (it
// would make every sealed secret unreadable).
func ensureMasterKey(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	return writeFileAtomic(path, []byte(hex.EncodeToString(key)+"\n"), 0o600)
}

// demoNode is what the demo records under its data directory.
type demoNode struct {
	BaseURL string `json:"base_url"` // the gateway's and the simulator's address
}

// demoBase is the address the demo recorded under dataDir, if a demo ran
// there.
func demoBase(dataDir string) (string, bool) {
	data, err := os.ReadFile(filepath.Join(dataDir, demoNodeFile))
	if err != nil {
		return "", false
	}
	var n demoNode
	if json.Unmarshal(data, &n) != nil || n.BaseURL == "" {
		return "", false
	}
	return n.BaseURL, true
}
