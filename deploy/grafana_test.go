package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// dashboardExprs returns every PromQL expression of the dashboard JSON: the
// panels' targets, the template variables' queries and the annotations.
func dashboardExprs(t *testing.T) (map[string]any, []string) {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(readFile(t, "grafana/paygate-dashboard.json"), &d); err != nil {
		t.Fatalf("paygate-dashboard.json: %v", err)
	}
	var exprs []string
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(k, e)
			}
		case []any:
			for _, e := range v {
				walk(key, e)
			}
		case string:
			if key == "expr" || key == "definition" {
				exprs = append(exprs, v)
			}
		}
	}
	walk("", d)
	return d, exprs
}

func TestDashboard(t *testing.T) {
	d, exprs := dashboardExprs(t)
	if d["uid"] == "" || d["title"] == "" {
		t.Error("the dashboard needs a uid and a title (provisioning keys on the uid)")
	}
	used := map[string]bool{}
	for _, e := range exprs {
		if bad := unknownMetrics(e); len(bad) > 0 {
			t.Errorf("%q uses metrics that are not among the fixed names: %v", e, bad)
		}
		for _, n := range metricName.FindAllString(e, -1) {
			used[strings.TrimSuffix(n, "_bucket")] = true
		}
	}
	for name := range fixedMetrics {
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
	ids := map[float64]bool{}
	panels, _ := d["panels"].([]any)
	if len(panels) == 0 {
		t.Fatal("no panels")
	}
	for _, p := range panels {
		p := p.(map[string]any)
		id, _ := p["id"].(float64)
		if ids[id] {
			t.Errorf("panel id %v twice", id)
		}
		ids[id] = true
		if _, ok := p["gridPos"].(map[string]any); !ok {
			t.Errorf("panel %v has no gridPos", p["title"])
		}
		if p["type"] != "row" && fmt.Sprint(p["datasource"]) != fmt.Sprint(map[string]any{"type": "prometheus", "uid": "${datasource}"}) {
			t.Errorf("panel %v: datasource %v, want the ${datasource} variable", p["title"], p["datasource"])
		}
	}
}

// TestDashboardPromQL parses every expression with Prometheus' own parser:
// promtool check rules on a rule file of one recording rule per expression,
// Grafana's variables replaced by values.
func TestDashboardPromQL(t *testing.T) {
	_, exprs := dashboardExprs(t)
	r := strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*")
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range slices.Compact(slices.Sorted(slices.Values(exprs))) {
		if strings.HasPrefix(e, "label_values(") {
			continue // Grafana's own function, not PromQL
		}
		q, _ := json.Marshal(r.Replace(e)) // a JSON string is a YAML string
		fmt.Fprintf(&b, "      - record: dashboard:expr%d\n        expr: %s\n", i, q)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Log(run(t, ".", "promtool", "check", "rules", path))
}
