package deploy_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The Alertmanager configuration is checked by amtool (Debian's
// prometheus-alertmanager) and, for what this project relies on, decoded
// strictly below. github.com/prometheus/alertmanager/config would decode it
// exactly, but pulls the AWS SDK, Kafka and memberlist clients into go.mod.

// amConfig is the part of alertmanager.yml paygate relies on; decoding it
// strictly refuses misspelt keys at these levels.
type amConfig struct {
	Global       map[string]any `yaml:"global"`
	Route        amRoute        `yaml:"route"`
	InhibitRules []struct {
		SourceMatchers []string `yaml:"source_matchers"`
		TargetMatchers []string `yaml:"target_matchers"`
		Equal          []string `yaml:"equal"`
	} `yaml:"inhibit_rules"`
	Receivers []struct {
		Name           string           `yaml:"name"`
		WebhookConfigs []map[string]any `yaml:"webhook_configs"`
		EmailConfigs   []map[string]any `yaml:"email_configs"`
	} `yaml:"receivers"`
}

type amRoute struct {
	Receiver       string    `yaml:"receiver"`
	GroupBy        []string  `yaml:"group_by"`
	Matchers       []string  `yaml:"matchers"`
	GroupWait      string    `yaml:"group_wait"`
	GroupInterval  string    `yaml:"group_interval"`
	RepeatInterval string    `yaml:"repeat_interval"`
	Routes         []amRoute `yaml:"routes"`
}

func TestAmtoolCheckConfig(t *testing.T) {
	t.Log(run(t, "alertmanager", "amtool", "check-config", "alertmanager.yml"))
}

// TestAlertRouting asks amtool where an alert of each level goes.
func TestAlertRouting(t *testing.T) {
	for level, want := range map[string]string{"P0": "pager", "P1": "chat", "P2": "email"} {
		out := run(t, "alertmanager", "amtool", "config", "routes", "test",
			"--config.file=alertmanager.yml", "severity="+level, "alertname=PaygateX", "cluster=prod")
		if got := strings.TrimSpace(out); !strings.HasSuffix(got, want) {
			t.Errorf("severity %s goes to %q, want %s", level, got, want)
		}
	}
}

func TestAlertmanagerConfig(t *testing.T) {
	var c amConfig
	decodeStrict(t, "alertmanager.yml", readFile(t, "alertmanager/alertmanager.yml"), &c)
	if !slices.Contains(c.Route.GroupBy, "alertname") || !slices.Contains(c.Route.GroupBy, "cluster") {
		t.Errorf("group_by %v, want alertname and cluster", c.Route.GroupBy)
	}
	receivers := map[string]bool{}
	for _, r := range c.Receivers {
		receivers[r.Name] = true
	}
	levels := map[string]amRoute{}
	for _, r := range append([]amRoute{c.Route}, c.Route.Routes...) {
		if !receivers[r.Receiver] {
			t.Errorf("route to unknown receiver %q", r.Receiver)
		}
		for _, m := range r.Matchers {
			if l, ok := strings.CutPrefix(m, `severity="`); ok {
				levels[strings.TrimSuffix(l, `"`)] = r
			}
		}
	}
	if p0, ok := levels["P0"]; !ok {
		t.Error("no route for P0")
	} else if d, err := time.ParseDuration(p0.GroupWait); err != nil || d > 30*time.Second {
		t.Errorf("P0 group_wait %q: a page must go out within 30s", p0.GroupWait)
	}
	// Every alert name an inhibition names is an alert of the rules.
	alerts := map[string]bool{}
	var rf ruleFile
	decodeStrict(t, "paygate-rules.yml", readFile(t, "prometheus/paygate-rules.yml"), &rf)
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = r.Alert != ""
		}
	}
	names := regexp.MustCompile(`Paygate[A-Za-z0-9]+`)
	p0Inhibits := false
	for _, ir := range c.InhibitRules {
		if !slices.Contains(ir.Equal, "cluster") {
			t.Errorf("inhibit rule %v does not require the same cluster", ir)
		}
		for _, m := range append(ir.SourceMatchers, ir.TargetMatchers...) {
			for _, n := range names.FindAllString(m, -1) {
				if !alerts[n] {
					t.Errorf("inhibit rule names %s, which is not an alert of paygate-rules.yml", n)
				}
			}
		}
		if slices.Equal(ir.SourceMatchers, []string{`severity="P0"`}) {
			p0Inhibits = true
		}
	}
	if !p0Inhibits {
		t.Error(`no inhibit rule with source severity="P0"`)
	}
}
