package chaos

// Recovery after a kill (MTTR): which background jobs the killed node held
// at its death, and how long until every one of them was handed back and
// running or done elsewhere. paygate names each process in River's
// attempted_by as host-pid-random (jobs/liveness.go), so the jobs a dead
// pid held are found in the database.

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the test reads the SQLite node's River table
)

// recoveryGoal is the bound: every order whose work a dead node
// held is settled within a minute of its return (SQLite) or its death
// (replicas).
const recoveryGoal = 60 * time.Second

// jobsProbe reads River's jobs in the run's database.
type jobsProbe interface {
	// held lists the ids of the jobs running under the process pid.
	held(ctx context.Context, pid int) ([]int64, error)
	// stillHeld counts those of ids still running under pid.
	stillHeld(ctx context.Context, ids []int64, pid int) (int, error)
}

// recovery is one kill's measure.
type recovery struct {
	node        string
	jobs        int
	afterDeath  time.Duration
	afterReturn time.Duration // negative: handed back before the node was back (by a replica)
	done        bool
}

func (r recovery) String() string {
	if !r.done {
		return fmt.Sprintf("%s: %d held jobs NOT handed back", r.node, r.jobs)
	}
	if r.afterReturn < 0 {
		return fmt.Sprintf("%s: %d held jobs back in %.1fs after death (before its return)", r.node, r.jobs, r.afterDeath.Seconds())
	}
	return fmt.Sprintf("%s: %d held jobs back in %.1fs after death (%.1fs after return)", r.node, r.jobs,
		r.afterDeath.Seconds(), r.afterReturn.Seconds())
}

// pidPattern matches attempted_by entries of process pid.
func pidPattern(pid int) string { return "%-" + strconv.Itoa(pid) + "-%" }

func idList(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ",")
}

// sqliteProbe reads the SQLite file read-only, beside the serving node.
type sqliteProbe struct{ db *sql.DB }

func newSQLiteProbe(path string) (*sqliteProbe, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	return &sqliteProbe{db: db}, nil
}

func (p *sqliteProbe) held(ctx context.Context, pid int) ([]int64, error) {
	rows, err := p.db.QueryContext(ctx, `SELECT id FROM river_job WHERE state = 'running'
		AND json_extract(json(attempted_by), '$[#-1]') LIKE ?`, pidPattern(pid))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func (p *sqliteProbe) stillHeld(ctx context.Context, ids []int64, pid int) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	var n int
	err := p.db.QueryRowContext(ctx, `SELECT count(*) FROM river_job WHERE id IN (`+idList(ids)+`) AND state = 'running'
		AND json_extract(json(attempted_by), '$[#-1]') LIKE ?`, pidPattern(pid)).Scan(&n)
	return n, err
}

// pgProbe asks through psql on the suite's own instance(s); with a
// failover, whichever is the primary answers.
type pgProbe struct{ instances func() []*pgInstance }

func (p *pgProbe) query(ctx context.Context, q string) (string, error) {
	var last error
	for _, pg := range p.instances() {
		out, err := pg.run("psql", "-X", "-At", "-h", pg.dir, "-p", strconv.Itoa(pg.port), "-U", "postgres", "-d", "postgres", "-c", q)
		if err == nil {
			return strings.TrimSpace(out), nil
		}
		last = fmt.Errorf("%v: %s", err, strings.TrimSpace(out))
	}
	return "", last
}

func (p *pgProbe) held(ctx context.Context, pid int) ([]int64, error) {
	out, err := p.query(ctx, fmt.Sprintf(`SELECT id FROM river_job WHERE state = 'running'
		AND attempted_by[array_length(attempted_by, 1)] LIKE '%s'`, pidPattern(pid)))
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, f := range strings.Fields(out) {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("psql printed %q", out)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func (p *pgProbe) stillHeld(ctx context.Context, ids []int64, pid int) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	out, err := p.query(ctx, fmt.Sprintf(`SELECT count(*) FROM river_job WHERE id IN (%s) AND state = 'running'
		AND attempted_by[array_length(attempted_by, 1)] LIKE '%s'`, idList(ids), pidPattern(pid)))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(out)
}

// watchRecovery polls until the jobs held by pid at its death are handed
// back, or until limit; died and returned (zero while the node is down)
// date the measure.
func watchRecovery(ctx context.Context, probe jobsProbe, node string, pid int, ids []int64, died time.Time, returned func() time.Time, limit time.Duration) recovery {
	r := recovery{node: node, jobs: len(ids)}
	for time.Since(died) < limit {
		n, err := probe.stillHeld(ctx, ids, pid)
		if err == nil && n == 0 {
			now := time.Now()
			r.done, r.afterDeath = true, now.Sub(died)
			if back := returned(); !back.IsZero() {
				r.afterReturn = now.Sub(back)
			} else {
				r.afterReturn = -1
			}
			return r
		}
		time.Sleep(250 * time.Millisecond)
	}
	return r
}
