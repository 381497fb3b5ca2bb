package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/recon"
	"github.com/paygate/paygate/wechatpay"
	"github.com/paygate/paygate/wechatpaysim"
)

// reconRun runs `paygate reconcile` in-process with args, against the
// node's configuration written to a file; it returns the report and the
// exit status.
func (e *e2eEnv) reconRun(t *testing.T, args ...string) (paygate.ReconciliationView, int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"reconcile", "--config", e.configFile(t), "--json"}, args...), &stdout, &stderr)
	code := 0
	if err != nil {
		code = exitCode(err)
	}
	var rep paygate.ReconciliationView
	if code != 1 {
		if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil {
			t.Fatalf("reconcile %v: %v\nstdout: %s\nstderr: %s", args, jerr, stdout.String(), stderr.String())
		}
	}
	return rep, code, stderr.String()
}

// configFile writes the node's configuration as YAML, once.
func (e *e2eEnv) configFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "paygate.yaml")
	data, err := yaml.Marshal(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func diffKinds(rep paygate.ReconciliationView) []string {
	var out []string
	for _, d := range rep.Differences {
		s := d.Kind + " " + d.ChannelOutTradeNo
		if d.OutRequestNo != "" {
			s += "/" + d.OutRequestNo
		}
		if d.Repaired {
			s += " repaired"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// TestE2EReconcile is the demo's story on both stores: orders paid and
// refunded through paygate match; a trade made at Alipay outside paygate, a
// refund made at Alipay directly and a payment whose notification was lost
// (its compensation far away) are found with the right kinds; --repair fixes
// the forward ones through the state machine (events follow) and leaves the
// unknown trade open; a second run shows only that.
func TestE2EReconcile(t *testing.T) {
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind, func(cfg *config, _ *alipaysim.Config) {
			cfg.Jobs.CompensateAfter = time.Hour // "delay compensation"
			cfg.Reconcile.Disabled = true        // this test runs it by hand
		})
		ctx := context.Background()
		day := recon.DayOf(time.Now())

		// Paid, and paid then partly refunded, through paygate.
		for _, no := range []string{"R1", "R2", "R3", "R4"} {
			e2eCreate(t, e.a, e2eQR(no, "9.90"), http.StatusCreated)
		}
		for _, no := range []string{"R1", "R2"} {
			e.pay(t, e2eGet(t, e.a, no).QRCode)
			e2eWaitStatus(t, e.a, no, "paid")
		}
		if _, err := e.a.Refund(ctx, "R1", client.RefundRequest{OutRequestNo: "R1_back", Amount: "1.00", Reason: "returned"}); err != nil {
			t.Fatalf("refund R1: %v", err)
		}

		// From here Alipay's notifications are lost.
		e.setFaults(t, alipaysim.Faults{NotifyDropRate: 1})
		appKey, simKey := e2eKeys()
		ali, err := alipay.New(alipay.Config{AppID: e2eAppID, GatewayURL: e.base + "/gateway.do", PrivateKey: appKey,
			AlipayPublicKey: &simKey.PublicKey, HTTPClient: e.http})
		if err != nil {
			t.Fatal(err)
		}
		// A trade made on the same app outside paygate, paid.
		outside, err := ali.Precreate(ctx, alipay.PrecreateRequest{OutTradeNo: "OUTSIDE_1", TotalAmount: 1234, Subject: "counter sale"})
		if err != nil {
			t.Fatal(err)
		}
		e.pay(t, outside.QRCode)
		e2eEventually(t, "the outside trade paid", func() bool {
			q, err := ali.Query(ctx, alipay.TradeRef{OutTradeNo: "OUTSIDE_1"})
			return err == nil && q.Paid()
		})
		// A refund made at Alipay directly (its console).
		r2 := e.stored(t, e.idA, "R2").ChannelNo
		if _, err := ali.Refund(ctx, alipay.RefundRequest{OutTradeNo: r2, RefundAmount: 200, OutRequestNo: "console_1"}); err != nil {
			t.Fatal(err)
		}
		// A payment whose notification is lost: pending here.
		e.pay(t, e2eGet(t, e.a, "R3").QRCode)
		r3 := e.stored(t, e.idA, "R3").ChannelNo
		e2eEventually(t, "R3 paid at the simulator", func() bool {
			q, err := ali.Query(ctx, alipay.TradeRef{OutTradeNo: r3})
			return err == nil && q.Paid()
		})
		if o := e.stored(t, e.idA, "R3"); o.Status != paygate.StatusPending {
			t.Fatalf("R3 is %s here; the test needs it pending", o.Status)
		}
		e.setFaults(t, alipaysim.Faults{NotifyDropRate: 1, BillSameDay: true})

		rep, code, stderr := e.reconRun(t, "--date", "today")
		if recon.DayOf(time.Now()) != day {
			t.Skip("the day (China time) ended during the test")
		}
		want := []string{"missing_local OUTSIDE_1", "refund_mismatch " + r2 + "/console_1", "status_mismatch " + r3}
		if got := diffKinds(rep); code != 3 || !slices.Equal(got, want) {
			t.Fatalf("exit %d, differences %v; want 3 and %v\nstderr: %s", code, got, want, stderr)
		}
		// Bill: R1, R2, R3 and the outside trade paid, R1's and R2's
		// refunds; books: R1, R2 and R1's refund.
		if rep.Date != day || rep.ChannelRows != 6 || rep.LocalRows != 3 || rep.Matched != 3 || rep.Repairs != 0 {
			t.Errorf("report %+v", rep)
		}
		if !strings.Contains(stderr, `"level":"ERROR"`) || !strings.Contains(stderr, "OUTSIDE_1") {
			t.Errorf("no ERROR line for the missing_local difference:\n%s", stderr)
		}
		// The merchant sees its own two; the other merchant none.
		if own, err := e.a.Reconciliation(ctx, day); err != nil || own.Open != 2 || len(own.Differences) != 2 || own.Status != "done" {
			t.Errorf("merchant A's reconciliation: %+v, %v", own, err)
		}
		if own, err := e.b.Reconciliation(ctx, day); err != nil || len(own.Differences) != 0 {
			t.Errorf("merchant B's reconciliation: %+v, %v", own, err)
		}
		var apiErr *client.APIError
		if _, err := e.a.Reconciliation(ctx, "2026-02-30"); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest {
			t.Errorf("a malformed date: %v", err)
		}
		if _, err := e.a.Reconciliation(ctx, "2020-01-01"); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound {
			t.Errorf("a day never reconciled: %v", err)
		}

		rep, code, stderr = e.reconRun(t, "--date", day, "--repair")
		want = []string{"missing_local OUTSIDE_1", "refund_mismatch " + r2 + "/console_1 repaired", "status_mismatch " + r3 + " repaired"}
		if got := diffKinds(rep); code != 3 || !slices.Equal(got, want) || rep.Repairs != 2 || rep.Open != 1 {
			t.Fatalf("repair: exit %d, differences %v, repairs %d, open %d; want 3, %v, 2, 1\nstderr: %s", code, got, rep.Repairs, rep.Open, want, stderr)
		}
		if o := e.stored(t, e.idA, "R3"); o.Status != paygate.StatusPaid {
			t.Errorf("R3 after the repair: %s", o.Status)
		}
		if o := e.stored(t, e.idA, "R2"); o.RefundedAmount != 200 {
			t.Errorf("R2 after the repair: refunded %s", o.RefundedAmount.Yuan())
		}
		// Events follow as for a notification.
		for no, typ := range map[string]string{"R3": paygate.EventOrderPaid, "R2": paygate.EventRefundSucceeded} {
			events, err := e.app.store.EventsByOrder(ctx, e.stored(t, e.idA, no).ID)
			if err != nil || !slices.ContainsFunc(events, func(ev *paygate.Event) bool { return ev.Type == typ }) {
				t.Errorf("%s: no %s event after the repair (%v)", no, typ, err)
			}
		}
		for _, d := range rep.Differences {
			if d.Repaired && (d.Before == "" || d.After == "" || d.RepairedAt == nil || d.Before == d.After) {
				t.Errorf("repair not recorded: %+v", d)
			}
		}

		rep, code, _ = e.reconRun(t, "--date", day)
		if got := diffKinds(rep); code != 3 || !slices.Equal(got, []string{"missing_local OUTSIDE_1"}) {
			t.Errorf("after the repair: exit %d, differences %v; want 3 and only the outside trade", code, got)
		}

		// The operator's list and show.
		var out, errOut bytes.Buffer
		if err := run(ctx, []string{"reconcile", "list", "--config", e.configFile(t)}, &out, &errOut); err != nil || !strings.Contains(out.String(), day) {
			t.Errorf("reconcile list: %v\n%s%s", err, out.String(), errOut.String())
		}
		out.Reset()
		if err := run(ctx, []string{"reconcile", "show", day, "--config", e.configFile(t)}, &out, &errOut); err != nil ||
			!strings.Contains(out.String(), "missing_local") || !strings.Contains(out.String(), "OUTSIDE_1") ||
			!strings.Contains(out.String(), "repairs made") || !strings.Contains(out.String(), "pending → paid") {
			t.Errorf("reconcile show: %v\n%s%s", err, out.String(), errOut.String())
		}
		// The repairs stay on record after a later run replaced the report.
		out.Reset()
		var shown paygate.ReconciliationView
		if err := run(ctx, []string{"reconcile", "show", day, "--json", "--config", e.configFile(t)}, &out, &errOut); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out.Bytes(), &shown); err != nil || len(shown.RepairLog) != 2 || len(shown.Differences) != 1 {
			t.Errorf("show --json: %v, %d repairs logged, %d differences; want 2 and 1", err, len(shown.RepairLog), len(shown.Differences))
		}
		if own, err := e.a.Reconciliation(ctx, day); err != nil || len(own.Differences) != 0 || len(own.RepairLog) != 2 {
			t.Errorf("merchant A after the repair: %+v, %v; want no differences and its two repairs", own, err)
		}

		// The node's metrics read the kept report.
		rec := httptest.NewRecorder()
		e.app.metrics.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		body := rec.Body.String()
		for _, line := range []string{`paygate_reconciliation_differences{channel="alipay",kind="missing_local"} 1`,
			`paygate_reconciliation_differences{channel="alipay",kind="status_mismatch"} 0`} {
			if !strings.Contains(body, line) {
				t.Errorf("metrics lack %q", line)
			}
		}
		if strings.Contains(body, `paygate_reconciliation_last_success_timestamp_seconds{channel="alipay"} 0`+"\n") {
			t.Errorf("no last success after a successful run")
		}
		if strings.Contains(body, `channel="wechat"`) {
			t.Errorf("reconciliation metrics of WeChat Pay on a node without it:\n%s", body)
		}
	})
}

// TestReconcileBillFile: `reconcile --bill` reads an archive already
// downloaded (no Alipay configured): against empty books, every payment of
// a synthetic bill is missing_local (exit 3); a bill of another day and a
// malformed date fail (exit 1) and keep no report of a run.
func TestReconcileBillFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	bill := filepath.Join(dir, "bill.zip")
	if _, stderr, err := runCmd(t, "sim", "bill", "--date", "2026-11-29", "--rows", "300", "--out", bill); err != nil {
		t.Fatalf("sim bill: %v\n%s", err, stderr)
	}
	if err := ensureMasterKey(filepath.Join(data, masterKeyFile)); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runCmd(t, "reconcile", "--date", "2026-11-29", "--bill", bill, "--data", data, "--json")
	if exitCode(err) != 3 {
		t.Fatalf("reconcile --bill: %v (exit %d), want exit 3\n%s", err, exitCode(err), stderr)
	}
	var rep paygate.ReconciliationView
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.ChannelRows != 300 || rep.DifferenceCount != 300 || rep.Open != 300 || len(rep.Differences) != 300 ||
		rep.Differences[0].Kind != recon.MissingLocal || !strings.HasPrefix(rep.Source, "file ") {
		t.Fatalf("report: %d rows, %d differences (%d open, %d listed), source %q", rep.ChannelRows, rep.DifferenceCount, rep.Open, len(rep.Differences), rep.Source)
	}
	if n := strings.Count(stderr, `"level":"ERROR"`); n < 100 {
		t.Errorf("%d ERROR lines for 300 missing_local differences; want one each up to 100, then one more", n)
	}
	for _, args := range [][]string{
		{"reconcile", "--date", "2026-11-28", "--bill", bill, "--data", data},         // another day's bill
		{"reconcile", "--date", "2026-11-31", "--bill", bill, "--data", data},         // no such day
		{"reconcile", "--bill", bill, "--data", data},                                 // no date
		{"reconcile", "--date", "2026-11-29", "--bill", bill + ".no", "--data", data}, // no file
	} {
		if _, _, err := runCmd(t, args...); exitCode(err) != 1 {
			t.Errorf("%v: %v (exit %d), want exit 1", args, err, exitCode(err))
		}
	}
	stdout, _, err = runCmd(t, "reconcile", "list", "--data", data)
	if err != nil || !strings.Contains(stdout, "2026-11-29  alipay   done") || !strings.Contains(stdout, "2026-11-28  alipay   failed") {
		t.Errorf("reconcile list: %v\n%s", err, stdout)
	}
}

// reconRuns runs `paygate reconcile --json` with args and returns each
// channel's report (a JSON line each) and the exit status.
func (e *e2eEnv) reconRuns(t *testing.T, args ...string) ([]paygate.ReconciliationView, int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"reconcile", "--config", e.configFile(t), "--json"}, args...), &stdout, &stderr)
	code := 0
	if err != nil {
		code = exitCode(err)
	}
	var reps []paygate.ReconciliationView
	dec := json.NewDecoder(&stdout)
	for dec.More() {
		var rep paygate.ReconciliationView
		if err := dec.Decode(&rep); err != nil {
			t.Fatalf("reconcile %v: %v\nstderr: %s", args, err, stderr.String())
		}
		reps = append(reps, rep)
	}
	return reps, code, stderr.String()
}

// TestE2EReconcileWechat: a node with both channels. Without --channel a
// run reconciles each configured channel's bill of the day (a report each,
// Alipay's without the WeChat Pay orders); --channel wechat only WeChat
// Pay's, whose payment with a lost notification is found and, with
// --repair, settled by WeChat Pay's query; list and show take the channel;
// the metrics have a series per channel; the merchant API shows both
// channels' differences.
func TestE2EReconcileWechat(t *testing.T) {
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind, e2eWechat, func(cfg *config, _ *alipaysim.Config) {
			cfg.Jobs.CompensateAfter = time.Hour // "delay compensation"
			cfg.Reconcile.Disabled = true        // this test runs it by hand
		})
		ctx := context.Background()
		day := recon.DayOf(time.Now())
		e2eCreate(t, e.a, e2eQR("RA1", "9.90"), http.StatusCreated)
		e.pay(t, e2eGet(t, e.a, "RA1").QRCode)
		e2eWaitStatus(t, e.a, "RA1", "paid")
		wq := e2eQR("RW1", "12.00")
		wq.Channel = "wechat"
		e2eCreate(t, e.a, wq, http.StatusCreated)
		e.pay(t, e2eGet(t, e.a, "RW1").QRCode)
		e2eWaitStatus(t, e.a, "RW1", "paid")
		// RW2 paid at WeChat Pay, its notification lost: pending here.
		if err := e.wx.SetFaults(wechatpaysim.Faults{NotifyDropRate: 1}); err != nil {
			t.Fatal(err)
		}
		wq = e2eQR("RW2", "3.00")
		wq.Channel = "wechat"
		e2eCreate(t, e.a, wq, http.StatusCreated)
		e.pay(t, e2eGet(t, e.a, "RW2").QRCode)
		e2eEventually(t, "RW2 paid at WeChat Pay", func() bool { return e.wxTrade(t, "RW2").TradeState == wechatpay.TradeSuccess })
		if o := e.stored(t, e.idA, "RW2"); o.Status != paygate.StatusPending {
			t.Fatalf("RW2 is %s here; the test needs it pending", o.Status)
		}
		e.setFaults(t, alipaysim.Faults{BillSameDay: true})
		if err := e.wx.SetFaults(wechatpaysim.Faults{NotifyDropRate: 1, BillSameDay: true}); err != nil {
			t.Fatal(err)
		}
		rw2 := e.stored(t, e.idA, "RW2").ChannelNo

		reps, code, stderr := e.reconRuns(t, "--date", "today")
		if recon.DayOf(time.Now()) != day {
			t.Skip("the day (China time) ended during the test")
		}
		if code != 3 || len(reps) != 2 || reps[0].Channel != "alipay" || reps[1].Channel != "wechat" {
			t.Fatalf("both channels: exit %d, %d reports %+v\nstderr: %s", code, len(reps), reps, stderr)
		}
		if ali := reps[0]; ali.ChannelRows != 1 || ali.LocalRows != 1 || ali.Matched != 1 || ali.DifferenceCount != 0 {
			t.Errorf("Alipay's report beside WeChat Pay orders: %+v", ali)
		}
		if wx := reps[1]; wx.ChannelRows != 2 || wx.LocalRows != 1 || wx.Matched != 1 ||
			!slices.Equal(diffKinds(wx), []string{"status_mismatch " + rw2}) || wx.Differences[0].BillChannel != "wechat" {
			t.Errorf("WeChat Pay's report: %+v, differences %v", wx, diffKinds(wx))
		}
		// The merchant sees the day's differences of both channels.
		if own, err := e.a.Reconciliation(ctx, day); err != nil || len(own.Differences) != 1 || len(own.Channels) != 2 {
			t.Errorf("merchant A's reconciliation: %+v, %v", own, err)
		}

		reps, code, stderr = e.reconRuns(t, "--date", day, "--channel", "wechat", "--repair")
		if code != 0 || len(reps) != 1 || reps[0].Channel != "wechat" || reps[0].Repairs != 1 || reps[0].Open != 0 {
			t.Fatalf("WeChat Pay with --repair: exit %d, reports %+v\nstderr: %s", code, reps, stderr)
		}
		if o := e.stored(t, e.idA, "RW2"); o.Status != paygate.StatusPaid {
			t.Errorf("RW2 after the repair: %s", o.Status)
		}
		reps, code, _ = e.reconRuns(t, "--date", day)
		if code != 0 || len(reps) != 2 || reps[1].Matched != 2 || reps[1].DifferenceCount != 0 {
			t.Errorf("after the repair: exit %d, reports %+v", code, reps)
		}

		var out, errOut bytes.Buffer
		if err := run(ctx, []string{"reconcile", "list", "--channel", "wechat", "--config", e.configFile(t)}, &out, &errOut); err != nil ||
			!strings.Contains(out.String(), day+"  wechat") || strings.Contains(out.String(), "alipay") {
			t.Errorf("reconcile list --channel wechat: %v\n%s%s", err, out.String(), errOut.String())
		}
		out.Reset()
		if err := run(ctx, []string{"reconcile", "list", "--config", e.configFile(t)}, &out, &errOut); err != nil ||
			!strings.Contains(out.String(), day+"  wechat") || !strings.Contains(out.String(), day+"  alipay") {
			t.Errorf("reconcile list: %v\n%s%s", err, out.String(), errOut.String())
		}
		out.Reset()
		if err := run(ctx, []string{"reconcile", "show", day, "--config", e.configFile(t)}, &out, &errOut); err != nil ||
			!strings.Contains(out.String(), "Alipay reconciliation of "+day) || !strings.Contains(out.String(), "WeChat Pay reconciliation of "+day) ||
			!strings.Contains(out.String(), "pending → paid") {
			t.Errorf("reconcile show: %v\n%s%s", err, out.String(), errOut.String())
		}
		out.Reset()
		if err := run(ctx, []string{"reconcile", "show", day, "--channel", "alipay", "--config", e.configFile(t)}, &out, &errOut); err != nil ||
			strings.Contains(out.String(), "WeChat Pay") {
			t.Errorf("reconcile show --channel alipay: %v\n%s%s", err, out.String(), errOut.String())
		}
		for _, args := range [][]string{
			{"reconcile", "--date", day, "--channel", "unionpay", "--config", e.configFile(t)},
			{"reconcile", "--date", day, "--channel", "auto", "--config", e.configFile(t)},
			{"reconcile", "list", "--channel", "auto", "--config", e.configFile(t)},
			{"reconcile", "show", "2020-01-01", "--channel", "wechat", "--config", e.configFile(t)},
		} {
			if err := run(ctx, args, &out, &errOut); exitCode(err) != 1 {
				t.Errorf("%v: %v (exit %d), want exit 1", args, err, exitCode(err))
			}
		}

		// The node's metrics have a series per channel.
		rec := httptest.NewRecorder()
		e.app.metrics.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		body := rec.Body.String()
		for _, line := range []string{`paygate_reconciliation_differences{channel="wechat",kind="status_mismatch"} 0`,
			`paygate_reconciliation_differences{channel="alipay",kind="missing_local"} 0`,
			`paygate_reconciliation_repairs_total{channel="wechat"} 0`} {
			if !strings.Contains(body, line) {
				t.Errorf("metrics lack %q", line)
			}
		}
		for _, ch := range []string{"alipay", "wechat"} {
			if strings.Contains(body, `paygate_reconciliation_last_success_timestamp_seconds{channel="`+ch+`"} 0`+"\n") {
				t.Errorf("no last success of %s after its successful runs", ch)
			}
		}
	})
}
