package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/paygate/paygate"
)

// ActivityLogConfig sets up an ActivityLog. Zero values take the defaults.
type ActivityLogConfig struct {
	Store  paygate.ActivityStore
	Logger *slog.Logger
	// Queue is how many activities may wait to be written; more are
	// dropped (and counted), never waited for. Default 4096.
	Queue int
	// Batch is the most activities one write carries, Every the longest an
	// activity waits for its batch to fill: a batch is written when it is
	// full or Every has passed. Defaults 256 and 200 ms.
	Batch int
	Every time.Duration
	// WriteTimeout bounds one batch's write; default 10 s. A batch whose
	// write fails is tried once more after RetryAfter (default 1 s), then
	// dropped and counted.
	WriteTimeout time.Duration
	RetryAfter   time.Duration
	// Observer hears what is written and what is dropped; may be nil.
	Observer ActivityObserver
}

// ActivityObserver receives the ActivityLog's counts; cmd backs it with
// Prometheus.
type ActivityObserver interface {
	// ActivitiesWritten: n activities were written in one batch.
	ActivitiesWritten(n int)
	// ActivitiesDropped: n activities were lost, for reason (one of
	// ActivityDropReasons).
	ActivitiesDropped(reason string, n int)
}

// Why activities are dropped.
const (
	DropQueueFull   = "queue_full"   // the writer could not keep up: the payment was not made to wait
	DropWriteFailed = "write_failed" // the database refused the batch twice
	DropClosed      = "closed"       // reported after the log was closed (shutdown)
)

// ActivityDropReasons lists every drop reason, for metrics to start at zero.
var ActivityDropReasons = []string{DropQueueFull, DropWriteFailed, DropClosed}

// ActivityLog writes order activities asynchronously, in batches: Record
// puts an activity on a bounded queue and returns at once, and one
// goroutine writes what has queued up, one transaction per batch. It is the
// ActivityRecorder cmd wires.
//
// Activities are diagnostic, and this is where that shows: when the queue is
// full an activity is dropped rather than a payment delayed, a batch the
// database refuses twice is dropped, and a crash loses what was queued, at
// most Every's worth plus the batch being written. Close writes everything
// queued before it returns. Every drop is counted (ActivityObserver).
type ActivityLog struct {
	cfg   ActivityLogConfig
	log   *slog.Logger
	queue chan paygate.OrderActivity
	stop  chan struct{}
	done  chan struct{}

	// mu orders Record against Close: once closed is set no Record is
	// mid-send, so the final drain finds everything that was queued.
	mu     sync.RWMutex
	closed bool
}

var _ ActivityRecorder = (*ActivityLog)(nil)

// NewActivityLog starts the writer; Close stops it.
func NewActivityLog(cfg ActivityLogConfig) *ActivityLog {
	if cfg.Queue <= 0 {
		cfg.Queue = 4096
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	setDefault(&cfg.Every, 200*time.Millisecond)
	setDefault(&cfg.WriteTimeout, 10*time.Second)
	setDefault(&cfg.RetryAfter, time.Second)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = noActivityObserver{}
	}
	l := &ActivityLog{cfg: cfg, log: cfg.Logger.With("component", "activity"),
		queue: make(chan paygate.OrderActivity, cfg.Queue), stop: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	return l
}

// Record queues a for writing without ever waiting: a full queue, or a
// closed log, drops it and counts the drop.
func (l *ActivityLog) Record(a paygate.OrderActivity) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.cfg.Observer.ActivitiesDropped(DropClosed, 1)
		return
	}
	select {
	case l.queue <- a:
	default:
		l.cfg.Observer.ActivitiesDropped(DropQueueFull, 1)
	}
}

// Close stops accepting activities, writes those queued and returns once
// they are written, or when ctx ends (the writer then finishes on its own).
// Later calls return at once.
func (l *ActivityLog) Close(ctx context.Context) error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.stop)
	}
	l.mu.Unlock()
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the writer: it gathers activities into a batch and writes it when
// it is full or the oldest has waited Every. The batch's storage is reused,
// so a steady stream allocates nothing here.
func (l *ActivityLog) run() {
	defer close(l.done)
	vals := make([]paygate.OrderActivity, 0, l.cfg.Batch)
	ptrs := make([]*paygate.OrderActivity, 0, l.cfg.Batch)
	flush := func() {
		if len(vals) == 0 {
			return
		}
		ptrs = ptrs[:0]
		for i := range vals {
			ptrs = append(ptrs, &vals[i])
		}
		l.write(ptrs)
		vals = vals[:0]
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case a := <-l.queue:
			if len(vals) == 0 {
				timer.Reset(l.cfg.Every) // the batch's first: it waits at most Every
			}
			vals = append(vals, a)
			if len(vals) >= l.cfg.Batch {
				timer.Stop()
				flush()
			}
		case <-timer.C:
			flush()
		case <-l.stop:
			timer.Stop()
			for {
				select {
				case a := <-l.queue:
					vals = append(vals, a)
					if len(vals) >= l.cfg.Batch {
						flush()
					}
				default:
					flush()
					return
				}
			}
		}
	}
}

// write writes one batch, trying once more after a pause if it fails.
func (l *ActivityLog) write(batch []*paygate.OrderActivity) {
	var err error
	for attempt := 1; attempt <= 2; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), l.cfg.WriteTimeout)
		err = l.cfg.Store.RecordActivities(ctx, batch)
		cancel()
		if err == nil {
			l.cfg.Observer.ActivitiesWritten(len(batch))
			return
		}
		if attempt == 1 {
			time.Sleep(l.cfg.RetryAfter)
		}
	}
	l.log.Warn("order activities not written: dropped", "count", len(batch), "err", err)
	l.cfg.Observer.ActivitiesDropped(DropWriteFailed, len(batch))
}

type noActivityObserver struct{}

func (noActivityObserver) ActivitiesWritten(int)         {}
func (noActivityObserver) ActivitiesDropped(string, int) {}
