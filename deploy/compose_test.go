package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// composeFile is the part of the Compose specification compose.yaml uses;
// decoded strictly, a misspelt key fails. Top-level x- keys are extensions
// (YAML anchors for the two nodes).
type composeFile struct {
	Name       string                    `yaml:"name"`
	Services   map[string]composeService `yaml:"services"`
	Volumes    map[string]any            `yaml:"volumes"`
	Networks   map[string]any            `yaml:"networks"`
	Extensions map[string]any            `yaml:",inline"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
		Target     string `yaml:"target"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	DependsOn   yaml.Node         `yaml:"depends_on"`
	Healthcheck *struct {
		Test     []string `yaml:"test"`
		Interval string   `yaml:"interval"`
		Timeout  string   `yaml:"timeout"`
		Retries  int      `yaml:"retries"`
	} `yaml:"healthcheck"`
	Restart         string   `yaml:"restart"`
	StopGracePeriod string   `yaml:"stop_grace_period"`
	ReadOnly        bool     `yaml:"read_only"`
	Tmpfs           []string `yaml:"tmpfs"`
}

// dependsOn lists the services s depends on (short list or long map form).
func (s composeService) dependsOn(t *testing.T) []string {
	t.Helper()
	var names []string
	switch s.DependsOn.Kind {
	case 0:
	case yaml.SequenceNode:
		if err := s.DependsOn.Decode(&names); err != nil {
			t.Fatal(err)
		}
	case yaml.MappingNode:
		var m map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := s.DependsOn.Decode(&m); err != nil {
			t.Fatal(err)
		}
		for n := range m {
			names = append(names, n)
		}
	default:
		t.Fatalf("depends_on: unexpected YAML %v", s.DependsOn.Kind)
	}
	return names
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	decodeStrict(t, "compose.yaml", readFile(t, "compose.yaml"), &c)
	for k := range c.Extensions {
		if !strings.HasPrefix(k, "x-") {
			t.Errorf("compose.yaml: unknown top-level key %q", k)
		}
	}
	return c
}

func TestComposeStrictDecodeRefusesTypos(t *testing.T) {
	var c composeFile
	dec := yaml.NewDecoder(strings.NewReader("services:\n  a:\n    imag: x\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err == nil {
		t.Fatal("a misspelt service key was accepted")
	}
}

func TestCompose(t *testing.T) {
	c := loadCompose(t)
	for _, want := range []string{"paygate-1", "paygate-2", "postgres", "redis", "sim", "prometheus", "alertmanager", "grafana", "jaeger", "lb", "keys"} {
		if _, ok := c.Services[want]; !ok {
			t.Errorf("no service %s", want)
		}
	}
	pinned := regexp.MustCompile(`^[a-z0-9./-]+:v?[0-9]+\.[0-9]+(\.[0-9]+)?(-[a-z0-9]+)?$`)
	for name, s := range c.Services {
		switch {
		case s.Build != nil:
			df := filepath.Join(s.Build.Context, s.Build.Dockerfile) // relative to deploy/
			if _, err := os.Stat(df); err != nil {
				t.Errorf("%s: build: %v", name, err)
			}
			if s.Build.Target == "" {
				t.Errorf("%s: build without a target builds the last stage by accident", name)
			}
		case !pinned.MatchString(s.Image):
			t.Errorf("%s: image %q is not pinned to a version", name, s.Image)
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(src); err != nil {
					t.Errorf("%s: bind mount %v", name, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("%s: volume %q is not declared", name, src)
			}
		}
		for _, d := range s.dependsOn(t) {
			if _, ok := c.Services[d]; !ok {
				t.Errorf("%s depends on unknown service %s", name, d)
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: port %s is published beyond loopback", name, p)
			}
		}
	}
	for _, n := range []string{"paygate-1", "paygate-2"} {
		s := c.Services[n]
		if !slices.Equal(s.Command, []string{"serve", "--config", "/etc/paygate/paygate.yaml"}) {
			t.Errorf("%s runs %q", n, s.Command)
		}
		if s.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"] != "http://jaeger:4318" {
			t.Errorf("%s: OTEL_EXPORTER_OTLP_ENDPOINT %q, want Jaeger's OTLP/HTTP", n, s.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"])
		}
		if !slices.Contains(s.Volumes, "./compose/paygate.yaml:/etc/paygate/paygate.yaml:ro") {
			t.Errorf("%s does not mount compose/paygate.yaml", n)
		}
	}
	if s := c.Services["sim"]; len(s.Command) == 0 || s.Command[0] != "sim" {
		t.Errorf("sim runs %q, want paygate sim", s.Command)
	}

	// The hosts the other files name are services here.
	hosts := regexp.MustCompile(`\b([a-z][a-z0-9-]*):(8080|9090|9091|9093|4318|16686|5432|6379)\b`)
	for _, f := range []string{"prometheus/prometheus.yml", "compose/nginx-lb.conf", "compose/paygate.yaml", "grafana/provisioning/datasources/datasources.yaml"} {
		for _, m := range hosts.FindAllStringSubmatch(string(readFile(t, f)), -1) {
			if _, ok := c.Services[m[1]]; !ok && m[1] != "localhost" {
				t.Errorf("%s names %s:%s, which is not a service of compose.yaml", f, m[1], m[2])
			}
		}
	}
}

// TestComposeConfigLoads loads compose/paygate.yaml with paygate's own
// loader (paygate migrate --config against a throwaway SQLite).
func TestComposeConfigLoads(t *testing.T) {
	migrateConfig(t, readFile(t, "compose/paygate.yaml"))
}
