package jobs

import (
	"context"
	"database/sql"
	"slices"

	"github.com/jackc/pgx/v5/pgxpool"
)

// KindDepth is how many of paygate's jobs of one kind are in each River
// state that is not finished: what the operator console's health page
// shows as the queue's depth. Completed and cancelled jobs are history and
// are not counted.
type KindDepth struct {
	Kind string
	// Available jobs are due and wait for a worker.
	Available int64
	// Running jobs are being worked on by a node now.
	Running int64
	// Retryable jobs failed an attempt and wait for their next one.
	Retryable int64
	// Scheduled jobs are due later (a snooze, a compensation's delay).
	Scheduled int64
	// Discarded jobs ran out of attempts (River keeps them a while).
	Discarded int64
}

// DepthFunc reads the queue's depth, one KindDepth per kind of Kinds, in
// that order, zero counts included.
type DepthFunc func(ctx context.Context) ([]KindDepth, error)

// depthQuery counts River's jobs by kind and state; the same SQL on both
// databases.
const depthQuery = `SELECT kind, state, count(*) FROM river_job
	WHERE state IN ('available', 'running', 'retryable', 'scheduled', 'discarded')
	GROUP BY kind, state`

// SQLiteDepth reads the depth from River's table in a SQLite database.
func SQLiteDepth(db *sql.DB) DepthFunc {
	return func(ctx context.Context) ([]KindDepth, error) {
		rows, err := db.QueryContext(ctx, depthQuery)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return scanDepth(func(kind, state *string, n *int64) error { return rows.Scan(kind, state, n) }, rows.Next, rows.Err)
	}
}

// PostgresDepth reads the depth from River's table in PostgreSQL.
func PostgresDepth(pool *pgxpool.Pool) DepthFunc {
	return func(ctx context.Context) ([]KindDepth, error) {
		rows, err := pool.Query(ctx, depthQuery)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return scanDepth(func(kind, state *string, n *int64) error { return rows.Scan(kind, state, n) }, rows.Next, rows.Err)
	}
}

// scanDepth folds the (kind, state, count) rows into one KindDepth per
// kind of Kinds; other kinds (River's own) are left out.
func scanDepth(scan func(kind, state *string, n *int64) error, next func() bool, rowsErr func() error) ([]KindDepth, error) {
	out := make([]KindDepth, len(Kinds))
	for i, k := range Kinds {
		out[i].Kind = k
	}
	for next() {
		var kind, state string
		var n int64
		if err := scan(&kind, &state, &n); err != nil {
			return nil, err
		}
		i := slices.Index(Kinds, kind)
		if i < 0 {
			continue
		}
		switch state {
		case "available":
			out[i].Available = n
		case "running":
			out[i].Running = n
		case "retryable":
			out[i].Retryable = n
		case "scheduled":
			out[i].Scheduled = n
		case "discarded":
			out[i].Discarded = n
		}
	}
	return out, rowsErr()
}
