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
	Reconciliation(ctx context.Context, day string) (*paygate.Reconciliation, error)
	ReconDifferencesOf(ctx context.Context, day string, merchantID int64) ([]*paygate.ReconDifference, error)
}

// reconciliationJSON is a day's reconciliation as a merchant sees it: its
// own differences only (the day's totals span every merchant of the app).
type reconciliationJSON struct {
	Date            string                        `json:"date"`
	Status          string                        `json:"status"`
	FinishedAt      *time.Time                    `json:"finished_at"`
	DifferenceCount int                           `json:"difference_count"`
	Open            int                           `json:"open"`
	Repairs         int                           `json:"repairs"`
	Differences     []paygate.ReconDifferenceView `json:"differences"`
	// RepairLog: every repair of the merchant's orders by any run of the
	// day, oldest first.
	RepairLog []paygate.ReconDifferenceView `json:"repair_log"`
}

// getReconciliation: GET /api/v1/reconciliations/:date, the merchant's
// differences of that day (China time) as the day's newest run left them.
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
	rep, err := s.recons.Reconciliation(ctx, day)
	if paygate.ErrorCode(err) == paygate.ENotFound {
		return 0, nil, paygate.Errorf(paygate.ENotFound, "%s has not been reconciled", day)
	}
	if err != nil {
		return 0, nil, err
	}
	diffs, err := s.recons.ReconDifferencesOf(ctx, day, m.ID)
	if err != nil {
		return 0, nil, err
	}
	out := reconciliationJSON{Date: rep.Day, Status: rep.Status, DifferenceCount: len(diffs),
		Differences: make([]paygate.ReconDifferenceView, 0, len(diffs)), RepairLog: []paygate.ReconDifferenceView{}}
	for _, d := range rep.RepairLog {
		if d.MerchantID == m.ID {
			out.RepairLog = append(out.RepairLog, d.View())
		}
	}
	if !rep.FinishedAt.IsZero() {
		t := rep.FinishedAt.UTC()
		out.FinishedAt = &t
	}
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
