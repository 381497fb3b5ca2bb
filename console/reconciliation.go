package console

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/paygate/paygate"
)

// reconciliationPage is the kept reconciliation reports, newest day first,
// and each day's report with its differences and repair log: what
// `paygate reconcile list` and `reconcile show` print.
func (c *Console) reconciliationPage() page {
	return page{Nav: "Reconciliation", Path: "/dashboard/reconciliation", Routes: func(r *router) {
		r.Get("/dashboard/reconciliation", c.reconciliations)
		r.Get("/dashboard/reconciliation/{day}", c.reconciliation)
	}}
}

// reconDays is how many days' reports the list shows: three months.
const reconDays = 92

// reconListView is the list's data.
type reconListView struct {
	Reports []*paygate.Reconciliation
	Days    int
}

// reconciliations lists the latest reports, newest day first.
func (c *Console) reconciliations(w http.ResponseWriter, r *http.Request, s *Session) error {
	reps, err := c.store.ListReconciliations(r.Context(), reconDays)
	if err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "reconciliations", reconListView{Reports: reps, Days: reconDays})
	return nil
}

// reconView is a day's report.
type reconView struct {
	Report      *paygate.Reconciliation
	Differences []reconDiff
	RepairLog   []reconDiff
}

// reconDiff is a difference with each side said in a few words and the
// name of its merchant.
type reconDiff struct {
	*paygate.ReconDifference
	Local, Channel string
	Merchant       string
}

// reconciliation shows a day's report.
func (c *Console) reconciliation(w http.ResponseWriter, r *http.Request, s *Session) error {
	day := r.PathValue("day")
	if _, err := time.ParseInLocation("2006-01-02", day, Zone); err != nil {
		return paygate.Errorf(paygate.ENotFound, "%q is not a day like 2026-03-04", day)
	}
	rep, err := c.store.Reconciliation(r.Context(), day)
	if paygate.ErrorCode(err) == paygate.ENotFound {
		return paygate.Errorf(paygate.ENotFound, "%s was never reconciled", day)
	}
	if err != nil {
		return err
	}
	names := c.merchantNames(r.Context())
	diffs := func(list []*paygate.ReconDifference) []reconDiff {
		out := make([]reconDiff, 0, len(list))
		for _, d := range list {
			rd := reconDiff{ReconDifference: d, Local: sideSummary(d.Local), Channel: sideSummary(d.Channel)}
			if d.MerchantID != 0 {
				rd.Merchant = names(d.MerchantID)
			}
			out = append(out, rd)
		}
		return out
	}
	c.render(w, r, s, http.StatusOK, "reconciliation", reconView{Report: rep, Differences: diffs(rep.Differences),
		RepairLog: diffs(rep.RepairLog)})
	return nil
}

// sideSummary is one side of a difference in a few words ("paid 9.90"),
// or "—" when that side has nothing.
func sideSummary(raw json.RawMessage) string {
	if s := paygate.ReconSideSummary(raw); s != "" {
		return s
	}
	return "—"
}
