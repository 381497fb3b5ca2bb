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
var fixedMetrics = map[string]bool{
	"paygate_http_requests_total": true, "paygate_http_request_duration_seconds": true,
	"paygate_orders_total": true, "paygate_refunds_total": true, "paygate_payment_amount_fen_total": true,
	"paygate_channel_calls_total": true, "paygate_channel_call_duration_seconds": true, "paygate_channel_breaker_state": true,
	"paygate_notifications_total": true,
	"paygate_auth_failures_total": true, "paygate_rate_limited_total": true,
	"paygate_webhook_deliveries_total": true, "paygate_webhook_delivery_duration_seconds": true,
	"paygate_webhook_backlog": true, "paygate_webhook_dead_letters": true,
	"paygate_jobs_queued": true, "paygate_jobs_oldest_age_seconds": true, "paygate_compensations_total": true,
	"paygate_db_pool_in_use": true, "paygate_db_pool_idle": true, "paygate_db_pool_wait_total": true,
	"paygate_db_pool_wait_seconds_total": true, "paygate_db_pool_max": true,
	"paygate_reconciliation_differences": true, "paygate_reconciliation_last_success_timestamp_seconds": true,
	"paygate_reconciliation_repairs_total": true,
	"paygate_late_payments_total":          true, "paygate_build_info": true,
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
