package jobs

import (
	"context"

	"github.com/riverqueue/river"
)

// EnqueueNowArgs inserts any River job, for tests of the queue itself.
func (q *Queue) EnqueueNowArgs(ctx context.Context, args river.JobArgs) error {
	return q.insert(ctx, args, &river.InsertOpts{Queue: QueueChannel})
}
