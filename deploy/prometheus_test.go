package deploy_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// ruleFile is the part of a Prometheus rule file the checks below read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func TestPromtoolCheckRules(t *testing.T) {
	out := run(t, "prometheus", "promtool", "check", "rules", "paygate-rules.yml")
	t.Log(out)
}

func TestPromtoolTestRules(t *testing.T) {
	out := run(t, "prometheus", "promtool", "test", "rules", "paygate-rules_test.yml")
	t.Log(out)
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules did not say SUCCESS:\n%s", out)
	}
}

func TestPromtoolCheckConfig(t *testing.T) {
	out := run(t, "prometheus", "promtool", "check", "config", "prometheus.yml")
	t.Log(out)
}

// TestAlertRules checks what promtool does not: every alert has a level,
// a summary, a runbook sentence and a runbook_url to a README heading, uses
// only the fixed metric names, and each level is present.
func TestAlertRules(t *testing.T) {
	var rf ruleFile
	decodeStrict(t, "paygate-rules.yml", readFile(t, "prometheus/paygate-rules.yml"), &rf)
	anchors := readmeAnchors(t)
	levels := map[string]int{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if bad := unknownMetrics(r.Expr); len(bad) > 0 {
				t.Errorf("%s%s uses metrics that are not among the fixed names: %v", r.Alert, r.Record, bad)
			}
			if r.Alert == "" {
				continue
			}
			sev := r.Labels["severity"]
			switch sev {
			case "P0", "P1", "P2":
				levels[sev]++
			default:
				t.Errorf("%s: severity %q, want P0, P1 or P2", r.Alert, sev)
			}
			if r.Annotations["summary"] == "" || !strings.HasSuffix(r.Annotations["runbook"], ".") {
				t.Errorf("%s: want a summary and a runbook sentence, have %q", r.Alert, r.Annotations)
			}
			url := r.Annotations["runbook_url"]
			want := "https://github.com/paygate/paygate/blob/main/README.md#" + strings.ToLower(r.Alert)
			if url != want {
				t.Errorf("%s: runbook_url %q, want %q", r.Alert, url, want)
			}
			if !anchors[strings.ToLower(r.Alert)] {
				t.Errorf("%s: README.md has no heading %q for its runbook_url", r.Alert, "#### "+r.Alert)
			}
		}
	}
	for _, l := range []string{"P0", "P1", "P2"} {
		if levels[l] == 0 {
			t.Errorf("no %s alert", l)
		}
	}
}

// readmeAnchors are GitHub's anchors of README.md's headings (single-word
// headings only need lower-casing).
func readmeAnchors(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#+ +(.+?) *$`).FindAllStringSubmatch(string(b), -1) {
		a := strings.ToLower(m[1])
		a = regexp.MustCompile(`[^a-z0-9 _-]`).ReplaceAllString(a, "")
		anchors[strings.ReplaceAll(a, " ", "-")] = true
	}
	return anchors
}
