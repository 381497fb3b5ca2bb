package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/paygate/paygate"
)

// Reconciliations reads the kept reconciliation reports; the store
// implements it.
type Reconciliations interface {
	Reconciliation(ctx context.Context, day string, ch paygate.Channel) (*paygate.Reconciliation, error)
	ReconDifferencesOf(ctx context.Context, day string, merchantID int64) ([]*paygate.ReconDifference, error)
}

// reconciliationJSON is a day's reconciliation as a merchant sees it: its
// own differences only (the day's totals span every merchant of the app),
// of every channel's bill reconciled that day.
type reconciliationJSON struct {
	Date string `json:"date"`
	// Status is done when every channel's report of the day is, failed
	// when one is failed; FinishedAt the latest run's end.
	Status     string     `json:"status"`
	FinishedAt *time.Time `json:"finished_at"`
	// Channels are the day's reports, one per channel reconciled.
	Channels        []reconChannelJSON            `json:"channels"`
	DifferenceCount int                           `json:"difference_count"`
	Open            int                           `json:"open"`
	Repairs         int                           `json:"repairs"`
	Differences     []paygate.ReconDifferenceView `json:"differences"`
	// RepairLog: every repair of the merchant's orders by any run of the
	// day, oldest first within each channel.
	RepairLog []paygate.ReconDifferenceView `json:"repair_log"`
}

// reconChannelJSON is one channel's report of the day.
type reconChannelJSON struct {
	Channel    string     `json:"channel"`
	Status     string     `json:"status"`
	FinishedAt *time.Time `json:"finished_at"`
}

// getReconciliation: GET /api/v1/reconciliations/:date, the merchant's
// differences of that day (China time) as each channel's newest run of the
// day left them.
func (s *Server) getReconciliation(c *gin.Context, m *paygate.Merchant) (int, any, error) {
	if err := checkQuery(c.Request.URL.Query()); err != nil {
		return 0, nil, err
	}
	if err := emptyBody(body(c)); err != nil {
		return 0, nil, err
	}
	day := c.Param("date")
	if t, err := time.Parse("2006-01-02", day); err != nil || t.Format("2006-01-02") != day {
		return 0, nil, invalid("date must be a day like 2026-11-30 (China time)")
	}
	ctx := c.Request.Context()
	out := reconciliationJSON{Date: day, Status: paygate.ReconDone, Channels: []reconChannelJSON{},
		RepairLog: []paygate.ReconDifferenceView{}}
	var finished time.Time
	for _, ch := range paygate.ReconChannels {
		rep, err := s.recons.Reconciliation(ctx, day, ch)
		if paygate.ErrorCode(err) == paygate.ENotFound {
			continue
		}
		if err != nil {
			return 0, nil, err
		}
		if rep.Status != paygate.ReconDone {
			out.Status = rep.Status
		}
		if rep.FinishedAt.After(finished) {
			finished = rep.FinishedAt
		}
		out.Channels = append(out.Channels, reconChannelJSON{Channel: string(rep.Channel), Status: rep.Status, FinishedAt: utcPtr(rep.FinishedAt)})
		for _, d := range rep.RepairLog {
			if d.MerchantID == m.ID {
				out.RepairLog = append(out.RepairLog, d.View())
			}
		}
	}
	if len(out.Channels) == 0 {
		return 0, nil, paygate.Errorf(paygate.ENotFound, "%s has not been reconciled", day)
	}
	out.FinishedAt = utcPtr(finished)
	diffs, err := s.recons.ReconDifferencesOf(ctx, day, m.ID)
	if err != nil {
		return 0, nil, err
	}
	out.DifferenceCount, out.Differences = len(diffs), make([]paygate.ReconDifferenceView, 0, len(diffs))
	for _, d := range diffs {
		if d.Repaired {
			out.Repairs++
		} else {
			out.Open++
		}
		out.Differences = append(out.Differences, d.View())
	}
	return http.StatusOK, out, nil
}

// utcPtr is t in UTC, or nil when zero.
func utcPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
