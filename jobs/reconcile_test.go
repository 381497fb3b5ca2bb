package jobs_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/jobs"
	"github.com/paygate/paygate/recon"
)

// TestDailyReconcileOnceAcrossReplicas: two replicas on one database, each
// with the daily reconciliation of both channels on a short schedule: the
// day due gets exactly one job per channel, whichever replica leads and
// however often the schedule fires, and a real reconciler of each channel
// reconciles it after the first try finds no bill published yet (it is
// asked for again, not failed). A job handed
// back after a node missed its heartbeats (a loaded machine) may run once
// more: reconciling a day again replaces its report, which is why the job
// may repeat; what must not happen is a second job for the day.
func TestDailyReconcileOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(t *testing.T) backend) {
		b := open(t)
		now := time.Now()
		day := jobs.DueDay(now, 10*time.Hour)
		start, _, err := recon.DayBounds(day)
		if err != nil {
			t.Fatal(err)
		}
		billData, err := alipaysim.BuildBill("20880000000000010156", start, nil)
		if err != nil {
			t.Fatal(err)
		}
		billFile := filepath.Join(t.TempDir(), "bill.zip")
		if err := os.WriteFile(billFile, billData, 0o600); err != nil {
			t.Fatal(err)
		}
		// WeChat Pay's bill of a day without trades, as a file.
		wxBill := filepath.Join(t.TempDir(), "tradebill.csv")
		if err := os.WriteFile(wxBill, []byte("交易时间,公众账号ID,商户号,微信订单号,商户订单号,交易状态,应结订单金额,退款金额\r\n"+
			"总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额\r\n`0,`0.00,`0.00,`0.00,`0.00000\r\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		reconcilers := map[paygate.Channel]*recon.Reconciler{}
		files := map[paygate.Channel]string{paygate.ChannelAlipay: billFile, paygate.ChannelWechat: wxBill}
		for ch, bills := range map[paygate.Channel]recon.Bills{paygate.ChannelAlipay: recon.Alipay(nil), paygate.ChannelWechat: recon.Wechat(nil)} {
			if reconcilers[ch], err = recon.New(recon.Config{Store: b.store, Bills: bills}); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		calls := map[string]int{}
		run := func(ctx context.Context, d string, ch paygate.Channel) error {
			mu.Lock()
			calls[d+" "+string(ch)]++
			n := calls[d+" "+string(ch)]
			mu.Unlock()
			if n == 1 {
				return recon.ErrBillNotReady
			}
			_, err := reconcilers[ch].Run(ctx, d, recon.Options{BillFile: files[ch]})
			return err
		}
		ctx := context.Background()
		for i := range 2 {
			q, err := b.newQueue(jobs.Config{PollInterval: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			jobs.ScheduleReconcile(q, jobs.ReconcileSchedule{Schedule: river.PeriodicInterval(200 * time.Millisecond),
				NotReadyRetry: 300 * time.Millisecond, Channels: paygate.ReconChannels}, run)
			if err := q.Start(ctx); err != nil {
				t.Fatalf("replica %d: %v", i, err)
			}
			t.Cleanup(func() {
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				q.Stop(sctx)
			})
		}
		deadline := time.Now().Add(90 * time.Second)
		for {
			done := 0
			for _, ch := range paygate.ReconChannels {
				if rep, err := b.store.Reconciliation(ctx, day, ch); err == nil && rep.Status == "done" {
					done++
				}
			}
			if done == len(paygate.ReconChannels) {
				break
			}
			if time.Now().After(deadline) {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("%s not reconciled after 90 s (calls %v)", day, calls)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// Many firings later, still one job for the day per channel.
		time.Sleep(2 * time.Second)
		jobsOfDay, err := b.countJobs(`SELECT count(*) FROM river_job WHERE kind = 'reconcile_day'`)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if jobsOfDay != 2 || len(calls) != 2 || calls[day+" alipay"] < 2 || calls[day+" wechat"] < 2 {
			t.Errorf("%d reconcile_day jobs, runs %v; want one job per channel, for the due day %s, each run at least twice (not ready, then reconciled)", jobsOfDay, calls, day)
		}
	})
}

func TestDueDay(t *testing.T) {
	china := time.FixedZone("CST", 8*3600)
	for _, c := range []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 11, 30, 10, 0, 0, 0, china), "2026-11-29"},
		{time.Date(2026, 11, 30, 9, 59, 59, 0, china), "2026-11-28"},
		{time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC), "2026-11-28"}, // 09:00 in China
		{time.Date(2026, 3, 1, 23, 0, 0, 0, china), "2026-02-28"},
	} {
		if got := jobs.DueDay(c.now, 10*time.Hour); got != c.want {
			t.Errorf("DueDay(%s) = %s, want %s", c.now, got, c.want)
		}
	}
	at := jobs.DailyAt(10 * time.Hour)
	if got, want := at.Next(time.Date(2026, 11, 30, 9, 0, 0, 0, china)), time.Date(2026, 11, 30, 10, 0, 0, 0, china); !got.Equal(want) {
		t.Errorf("Next(09:00) = %s, want %s", got, want)
	}
	if got, want := at.Next(time.Date(2026, 11, 30, 10, 0, 0, 0, china)), time.Date(2026, 12, 1, 10, 0, 0, 0, china); !got.Equal(want) {
		t.Errorf("Next(10:00) = %s, want %s", got, want)
	}
}
