package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/recon"
)

// ReconcileArgs reconciles one day (yyyy-MM-dd, China time) against one
// channel's bill. A day and channel have at most one such job at a time,
// whichever replica inserts it.
type ReconcileArgs struct {
	Day string `json:"day"`
	// Channel is the channel whose bill is reconciled; empty is Alipay:
	// Alipay's jobs keep the arguments they had before channels, so that
	// a day's job inserted by an older node is the same job.
	Channel paygate.Channel `json:"channel,omitempty"`
}

// Kind is River's name for the job.
func (ReconcileArgs) Kind() string { return "reconcile_day" }

// InsertOpts makes the job unique by its day and channel: the leader
// inserts the daily jobs, and a repeat of the same day (a restart's
// RunOnStart, a new leader) is skipped while the first is kept by River.
func (ReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueChannel, MaxAttempts: reconcileAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// reconcileAttempts bounds failed runs (errors, not a bill that is not
// published yet: that snoozes).
const reconcileAttempts = 10

// ReconcileFunc reconciles a day of one channel; a *recon.Reconciler of
// that channel backs it.
type ReconcileFunc func(ctx context.Context, day string, ch paygate.Channel) error

// ReconcileWorker runs ReconcileArgs jobs.
type ReconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	Run ReconcileFunc
	// NotReadyRetry is the pause before asking again for a bill the
	// channel has not published yet.
	NotReadyRetry time.Duration
}

// Work reconciles the day's bill of the job's channel; a bill not
// published yet is asked for again later (a snooze, which does not use up
// an attempt), for up to three days after the day.
func (w *ReconcileWorker) Work(ctx context.Context, job *river.Job[ReconcileArgs]) error {
	ch := job.Args.Channel.OrDefault()
	err := w.Run(ctx, job.Args.Day, ch)
	if errors.Is(err, recon.ErrBillNotReady) {
		_, end, derr := recon.DayBounds(job.Args.Day)
		if derr == nil && time.Since(end) < 72*time.Hour {
			return river.JobSnooze(w.NotReadyRetry)
		}
		return river.JobCancel(fmt.Errorf("no %s bill for %s three days after it: %w", ch, job.Args.Day, err))
	}
	return err
}

// Timeout lets a large day take longer than ordinary jobs.
func (w *ReconcileWorker) Timeout(*river.Job[ReconcileArgs]) time.Duration { return 30 * time.Minute }

// DailyAt is a River schedule firing once a day at an offset from midnight,
// China time (Alipay publishes the day before's bills in the morning,
// WeChat Pay from 10:00).
type DailyAt time.Duration

// Next is the first firing strictly after t.
func (d DailyAt) Next(t time.Time) time.Time {
	c := t.In(alipay.ChinaTime)
	next := time.Date(c.Year(), c.Month(), c.Day(), 0, 0, 0, 0, alipay.ChinaTime).Add(time.Duration(d))
	for !next.After(t) {
		next = next.AddDate(0, 0, 1)
	}
	return next
}

// ReconcileSchedule configures the daily reconciliation.
type ReconcileSchedule struct {
	// Schedule fires the job; each firing reconciles the last day whose
	// bill is due: the day before the firing's day (China time).
	Schedule river.PeriodicSchedule
	// Due is the time of day (from midnight, China time) from which the
	// day before's bill is due: a node that starts after it (and missed
	// the firing) reconciles that day at once; before it, the day before
	// that. Default 10:00.
	Due time.Duration
	// NotReadyRetry, default 30 min (WeChat Pay asks for half an hour
	// between tries while it makes a bill).
	NotReadyRetry time.Duration
	// Channels are the channels reconciled each day, each by its own job;
	// default Alipay alone.
	Channels []paygate.Channel
	Now      func() time.Time
}

// ScheduleReconcile registers the reconciliation worker and a daily job
// per channel on q. Only the elected leader among the replicas inserts
// periodic jobs, and a job is unique per day and channel, so a channel's
// day is reconciled once, whatever the other channel's job does.
func ScheduleReconcile(q *Queue, s ReconcileSchedule, run ReconcileFunc) {
	if s.Due <= 0 {
		s.Due = 10 * time.Hour
	}
	if s.Schedule == nil {
		s.Schedule = DailyAt(s.Due)
	}
	if s.NotReadyRetry <= 0 {
		s.NotReadyRetry = 30 * time.Minute
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if len(s.Channels) == 0 {
		s.Channels = []paygate.Channel{paygate.ChannelAlipay}
	}
	Register(q, &ReconcileWorker{Run: run, NotReadyRetry: s.NotReadyRetry})
	for _, ch := range s.Channels {
		// Alipay's job keeps the ID and arguments it had before channels.
		id, arg := "reconcile_day", paygate.Channel("")
		if ch != paygate.ChannelAlipay {
			id, arg = "reconcile_day_"+string(ch), ch
		}
		q.periodic.Add(river.NewPeriodicJob(s.Schedule, func() (river.JobArgs, *river.InsertOpts) {
			return ReconcileArgs{Day: DueDay(s.Now(), s.Due), Channel: arg}, nil
		}, &river.PeriodicJobOpts{ID: id, RunOnStart: true}))
	}
}

// DueDay is the last day whose bill is due at now: the day before today
// (China time) from due on, the day before that earlier.
func DueDay(now time.Time, due time.Duration) string {
	c := now.In(alipay.ChinaTime)
	midnight := time.Date(c.Year(), c.Month(), c.Day(), 0, 0, 0, 0, alipay.ChinaTime)
	back := -1
	if now.Before(midnight.Add(due)) {
		back = -2
	}
	return midnight.AddDate(0, 0, back).Format("2006-01-02")
}
