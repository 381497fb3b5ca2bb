package deploy_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/paygate/paygate/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// run runs program (looked up on PATH: skipped outside CI when missing,
// failed in CI) in dir and returns its combined output; a failure fails t
// with the output.
func run(t *testing.T, dir, program string, args ...string) string {
	t.Helper()
	path := testenv.LookPath(t, program)
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", program, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// readFile reads a file of this directory (go test runs in it).
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeStrict decodes YAML into v, refusing keys v does not have.
func decodeStrict(t *testing.T, name string, data []byte, v any) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// fixedMetrics are the metric families issue 9 fixes: the rules and the
// dashboard may use only these (and Prometheus' own up and the process
// collector's process_start_time_seconds in the rules).
var fixedMetrics = setOf(
	"paygate_http_requests_total",
	"paygate_http_request_duration_seconds",
	"paygate_orders_total",
	"paygate_refunds_total",
	"paygate_payment_amount_fen_total",
	"paygate_channel_calls_total",
	"paygate_channel_call_duration_seconds",
	"paygate_channel_breaker_state",
	"paygate_notifications_total",
	"paygate_auth_failures_total",
	"paygate_rate_limited_total",
	"paygate_webhook_deliveries_total",
	"paygate_webhook_delivery_duration_seconds",
	"paygate_webhook_backlog",
	"paygate_webhook_dead_letters",
	"paygate_jobs_queued",
	"paygate_jobs_oldest_age_seconds",
	"paygate_compensations_total",
	"paygate_db_pool_in_use",
	"paygate_db_pool_idle",
	"paygate_db_pool_wait_total",
	"paygate_db_pool_wait_seconds_total",
	"paygate_db_pool_max",
	"paygate_reconciliation_differences",
	"paygate_reconciliation_last_success_timestamp_seconds",
	"paygate_reconciliation_repairs_total",
	"paygate_late_payments_total",
	"paygate_build_info",
)

// setOf is a set of names.
func setOf(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// metricName matches the paygate metric names in a PromQL expression.
var metricName = regexp.MustCompile(`\bpaygate_[a-z0-9_]+`)

// unknownMetrics returns the paygate_ names in expr that are not fixed
// (histogram series _bucket, _sum, _count count as their family).
func unknownMetrics(expr string) []string {
	var bad []string
	for _, name := range metricName.FindAllString(expr, -1) {
		family := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if f, ok := strings.CutSuffix(name, suffix); ok && fixedMetrics[f] {
				family = f
			}
		}
		if !fixedMetrics[family] {
			bad = append(bad, name)
		}
	}
	return bad
}
