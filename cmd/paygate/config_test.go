package main

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	for name, content := range map[string]string{
		"empty file":    "",
		"only comments": "# nothing set\n\n",
		"empty section": "server:\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := loadConfig(writeConfig(t, content), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c, defaultConfig()) {
				t.Fatalf("loadConfig = %+v, want the defaults %+v", c, defaultConfig())
			}
		})
	}
	t.Run("no file", func(t *testing.T) {
		t.Parallel()
		c, err := loadConfig("", nil)
		if err != nil || !reflect.DeepEqual(c, defaultConfig()) {
			t.Fatalf("loadConfig(\"\") = %+v, %v", c, err)
		}
	})
}

func TestLoadConfigYAML(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(writeConfig(t, `
server:
  addr: 127.0.0.1:9000
  public_url: https://pay.example.com
  drain_delay: 2s
database:
  url: postgres://paygate@db/paygate
secrets:
  master_key_file: /etc/paygate/master.key
alipay:
  app_id: "2021000000000001"
  call_timeout: 1m30s
rate_limit:
  per_second: 12.5
  burst: 7
barcode:
  poll_timeout: 45s
log:
  level: debug
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := defaultConfig()
	want.Server.Addr = "127.0.0.1:9000"
	want.Server.PublicURL = "https://pay.example.com"
	want.Server.DrainDelay = 2 * time.Second
	want.Database.URL = "postgres://paygate@db/paygate"
	want.Secrets.MasterKeyFile = "/etc/paygate/master.key"
	want.Alipay.AppID = "2021000000000001"
	want.Alipay.CallTimeout = 90 * time.Second
	want.RateLimit.PerSecond = 12.5
	want.RateLimit.Burst = 7
	want.Barcode.PollTimeout = 45 * time.Second
	want.Log.Level = "debug"
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("loadConfig =\n%+v\nwant\n%+v", c, want)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, content string
		want          []string
	}{
		{"unknown key", "server:\n  adress: :9000\n", []string{"adress"}},
		{"unknown section", "databse:\n  url: sqlite:x.db\n", []string{"databse"}},
		{"bad duration", "server:\n  drain_delay: soon\n", []string{"soon"}},
		{"bad number", "rate_limit:\n  burst: many\n", []string{"many"}},
		{"not yaml", "server: [\n", []string{"config"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeConfig(t, tt.content)
			_, err := loadConfig(path, nil)
			if err == nil {
				t.Fatal("loadConfig accepted it")
			}
			for _, w := range append(tt.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to name %q", err, w)
				}
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		if _, err := loadConfig(filepath.Join(t.TempDir(), "nope.yaml"), nil); err == nil {
			t.Fatal("loadConfig accepted a missing file")
		}
	})
}

func TestLoadConfigEnv(t *testing.T) {
	t.Parallel()
	file := writeConfig(t, "database:\n  url: sqlite:from-file.db\nserver:\n  addr: :7000\n")
	tests := []struct {
		env  string
		want func(*config)
	}{
		{"PAYGATE_DATABASE_URL=postgres://paygate:pw@db:5432/paygate", func(c *config) { c.Database.URL = "postgres://paygate:pw@db:5432/paygate" }},
		{"PAYGATE_SERVER_ADDR=127.0.0.1:9999", func(c *config) { c.Server.Addr = "127.0.0.1:9999" }},
		{"PAYGATE_BARCODE_POLL_TIMEOUT=5s", func(c *config) { c.Barcode.PollTimeout = 5 * time.Second }},
		{"PAYGATE_RATE_LIMIT_PER_SECOND=2.5", func(c *config) { c.RateLimit.PerSecond = 2.5 }},
		{"PAYGATE_RATE_LIMIT_BURST=3", func(c *config) { c.RateLimit.Burst = 3 }},
		{"PAYGATE_SECRETS_MASTER_KEY=" + strings.Repeat("ab", 32), func(c *config) { c.Secrets.MasterKey = strings.Repeat("ab", 32) }},
		{"PAYGATE_ALIPAY_PRIVATE_KEY_FILE=/run/secrets/app.pem", func(c *config) { c.Alipay.PrivateKeyFile = "/run/secrets/app.pem" }},
		{"PAYGATE_SERVER_PUBLIC_URL=", func(c *config) { c.Server.PublicURL = "" }}, // set but empty still sets
		{"PAYGATE_LOG_LEVEL=a=b", func(c *config) { c.Log.Level = "a=b" }},          // only the first "=" splits
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Parallel()
			c, err := loadConfig(file, []string{tt.env, "HOME=/root"})
			if err != nil {
				t.Fatal(err)
			}
			want := defaultConfig()
			want.Database.URL = "sqlite:from-file.db"
			want.Server.Addr = ":7000"
			tt.want(&want)
			if !reflect.DeepEqual(c, want) {
				t.Fatalf("with %s:\n%+v\nwant\n%+v", tt.env, c, want)
			}
		})
	}
}

func TestLoadConfigEnvErrors(t *testing.T) {
	t.Parallel()
	for _, env := range []string{
		"PAYGATE_BARCODE_POLL_TIMEOUT=5",
		"PAYGATE_SERVER_DRAIN_DELAY=soon",
		"PAYGATE_RATE_LIMIT_PER_SECOND=fast",
		"PAYGATE_RATE_LIMIT_BURST=2.5",
	} {
		t.Run(env, func(t *testing.T) {
			t.Parallel()
			name, _, _ := strings.Cut(env, "=")
			_, err := loadConfig("", []string{env})
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("err = %v, want one naming %s", err, name)
			}
		})
	}
}

func TestLoadConfigIgnoresOtherVariables(t *testing.T) {
	t.Parallel()
	c, err := loadConfig("", []string{
		"PAYGATE_TEST_POSTGRES_URL=not a url at all",
		"PAYGATE_TEST_RATE_LIMIT_BURST=many",
		"PAYGATE_CHAOS_PG_BIN=/usr/lib/postgresql/17/bin",
		"PAYGATE_UPDATE_GOLDEN=1",
		"PAYGATE_SCREENSHOTS=/tmp/shots",
		"PAYGATE",
		"paygate_server_addr=:1",
		"DATABASE_URL=postgres://elsewhere",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, defaultConfig()) {
		t.Fatalf("unrelated variables changed the config: %+v", c)
	}
}

// TestLoadConfigUnknownVariable: a PAYGATE_ variable that names no setting
// is an error naming it and the setting it was probably meant to be.
func TestLoadConfigUnknownVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  []string
		want []string
	}{
		{[]string{"PAYGATE_DATABSE_URL=sqlite:/x.db"}, []string{"PAYGATE_DATABSE_URL", "did you mean PAYGATE_DATABASE_URL?"}},
		{[]string{"PAYGATE_DATABASE=x"}, []string{"PAYGATE_DATABASE", "did you mean PAYGATE_DATABASE_URL?"}},
		{[]string{"PAYGATE_=x"}, []string{"unknown environment variable PAYGATE_"}},
		{[]string{"PAYGATE_SERVER_ADDR=:1", "PAYGATE_ZZZ=1", "PAYGATE_SECRETS_MASTERKEY=x"},
			[]string{"PAYGATE_SECRETS_MASTERKEY (did you mean PAYGATE_SECRETS_MASTER_KEY?)", "also unknown: PAYGATE_ZZZ"}},
	}
	for _, tt := range tests {
		t.Run(tt.env[0], func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig("", tt.env)
			if err == nil {
				t.Fatal("an unknown PAYGATE_ variable was accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "sqlite:/x.db") || strings.Contains(err.Error(), "=x") {
				t.Errorf("err = %v quotes the value (it may be a secret)", err)
			}
		})
	}
}

// TestConfigFromDataFlags covers the embedded default under --data, which the
// environment overrides like a file. It sets the process environment, so it
// does not run in parallel.
func TestConfigFromDataFlags(t *testing.T) {
	t.Setenv("PAYGATE_LOG_LEVEL", "debug")
	dir := t.TempDir()
	c, err := (&dataFlags{dataDir: dir}).resolve()
	if err != nil {
		t.Fatal(err)
	}
	if c.Database.URL != "sqlite:"+filepath.Join(dir, dbFile) || c.Secrets.MasterKeyFile != filepath.Join(dir, masterKeyFile) || c.Log.Level != "debug" {
		t.Fatalf("resolve = %+v", c)
	}
	t.Setenv("PAYGATE_RATE_LIMIT_BURST", "lots")
	if _, err := (&dataFlags{dataDir: dir}).resolve(); err == nil || !strings.Contains(err.Error(), "PAYGATE_RATE_LIMIT_BURST") {
		t.Fatalf("err = %v, want one naming PAYGATE_RATE_LIMIT_BURST", err)
	}
}

func TestConfigRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"postgres://paygate:s3cret@db:5432/paygate?sslmode=disable", "postgres://…@db:5432/paygate?sslmode=disable"},
		{"postgresql://paygate:s3cret@db/paygate", "postgresql://…@db/paygate"},
		{"postgres://paygate:p@ss/w:rd@db/paygate", "postgres://…@db/paygate"},
		{"postgres://db/paygate?user=paygate&password=s3cret&sslmode=disable", "postgres://db/paygate?user=paygate&password=…&sslmode=disable"},
		{"host=db user=paygate password=s3cret dbname=paygate", "host=db user=paygate password=… dbname=paygate"},
		{"host=db password='s3 cret' dbname=paygate", "host=db password=… dbname=paygate"},
		{"postgres://paygate@db/paygate", "postgres://…@db/paygate"},
		{"postgres://db/paygate", "postgres://db/paygate"},
		{"sqlite:paygate-data/paygate.db", "sqlite:paygate-data/paygate.db"},
		{"", ""},
	}
	for _, tt := range tests {
		got := redactURL(tt.in)
		if got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, "s3") || strings.Contains(got, "w:rd") {
			t.Errorf("redactURL(%q) = %q still shows the password", tt.in, got)
		}
	}
}

// exampleConfig is the repository's example configuration.
const exampleConfig = "../../paygate.example.yaml"

// exampleValues are the keys whose example value is not the default: what
// an operator must fill in, shown with a placeholder.
var exampleValues = map[string]bool{
	"server.public_url":             true,
	"secrets.master_key_file":       true,
	"alipay.app_id":                 true,
	"alipay.private_key_file":       true,
	"alipay.alipay_public_key_file": true,
	"alipay.seller_id":              true,
}

// TestExampleConfig keeps paygate.example.yaml from rotting: it loads
// strictly, names every key of the config struct, and shows every default
// as it is.
func TestExampleConfig(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(exampleConfig, nil)
	if err != nil {
		t.Fatalf("the example config does not load: %v", err)
	}
	raw, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	var inFile map[string]map[string]any
	if err := yaml.Unmarshal(raw, &inFile); err != nil {
		t.Fatal(err)
	}
	got, def := reflect.ValueOf(c), reflect.ValueOf(defaultConfig())
	var keys []string
	for i := range got.NumField() {
		if !got.Type().Field(i).IsExported() {
			continue // not a setting (the tracer)
		}
		section := got.Type().Field(i).Tag.Get("yaml")
		for j := range got.Field(i).NumField() {
			key := got.Field(i).Type().Field(j).Tag.Get("yaml")
			name := section + "." + key
			keys = append(keys, name)
			if _, ok := inFile[section][key]; !ok {
				t.Errorf("%s is missing from %s", name, exampleConfig)
				continue
			}
			same := reflect.DeepEqual(got.Field(i).Field(j).Interface(), def.Field(i).Field(j).Interface())
			switch {
			case exampleValues[name] && same:
				t.Errorf("%s: the example shows the default; give it a placeholder or drop it from exampleValues", name)
			case !exampleValues[name] && !same:
				t.Errorf("%s = %v in the example, but the default is %v", name, got.Field(i).Field(j).Interface(), def.Field(i).Field(j).Interface())
			}
		}
	}
	for name := range exampleValues {
		if !slices.Contains(keys, name) {
			t.Errorf("exampleValues names %s, which is not a key", name)
		}
	}
	if c.Secrets.MasterKey != "" {
		t.Error("the example holds a master key; secrets belong in files or the environment")
	}
	if !strings.Contains(string(raw), "# url: postgres://") {
		t.Error("the example lost its commented PostgreSQL URL")
	}
}

// TestWebhookEgressConfig: serve's defaults keep webhooks off internal
// networks and plain http; the demo, whose receivers are local, allows
// both; either can be set by file or environment.
func TestWebhookEgressConfig(t *testing.T) {
	t.Parallel()
	def := defaultConfig()
	if def.Webhooks.AllowPrivateNetworks || def.Webhooks.AllowHTTP {
		t.Fatalf("defaults allow private networks %v, http %v; want neither", def.Webhooks.AllowPrivateNetworks, def.Webhooks.AllowHTTP)
	}
	demo, err := demoConfig(t.TempDir(), "http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	if !demo.Webhooks.AllowPrivateNetworks || !demo.Webhooks.AllowHTTP {
		t.Fatalf("demo allows private networks %v, http %v; want both", demo.Webhooks.AllowPrivateNetworks, demo.Webhooks.AllowHTTP)
	}
	c, err := loadConfig(writeConfig(t, "webhooks:\n  allow_private_networks: true\n"), []string{"PAYGATE_WEBHOOKS_ALLOW_HTTP=true"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Webhooks.AllowPrivateNetworks || !c.Webhooks.AllowHTTP {
		t.Fatalf("loaded allow private networks %v, http %v; want both", c.Webhooks.AllowPrivateNetworks, c.Webhooks.AllowHTTP)
	}
	if _, err := loadConfig("", []string{"PAYGATE_WEBHOOKS_ALLOW_PRIVATE_NETWORKS=maybe"}); err == nil || !strings.Contains(err.Error(), "PAYGATE_WEBHOOKS_ALLOW_PRIVATE_NETWORKS") {
		t.Fatalf("a malformed PAYGATE_WEBHOOKS_ALLOW_PRIVATE_NETWORKS: %v, want an error naming it", err)
	}
}
