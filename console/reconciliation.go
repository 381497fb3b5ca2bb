package console

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/paygate/paygate"
)

// reconciliationPage is the kept reconciliation reports, newest day first,
// each channel's (Alipay's, WeChat Pay's) beside the other's, and a day's
// reports with their differences and repair logs: what `paygate reconcile
// list` and `reconcile show` print. The list and a day take a channel:
// ?channel= on the list, /{day}/{channel} for one channel's report of the
// day (/{day} shows every channel's).
func (c *Console) reconciliationPage() page {
	return page{Nav: "Reconciliation", Path: "/dashboard/reconciliation", Routes: func(r *router) {
		r.Get("/dashboard/reconciliation", c.reconciliations)
		r.Get("/dashboard/reconciliation/{day}", c.reconciliation)
		r.Get("/dashboard/reconciliation/{day}/{channel}", c.reconciliation)
	}}
}

// reconDays is how many days' reports the list shows: three months.
const reconDays = 92

// reconChannel is a channel as the pages name and link it.
type reconChannel struct {
	Channel paygate.Channel
	Title   string
}

// reconChannels are the channels with bills, in the pages' order.
func reconChannels() []reconChannel {
	out := make([]reconChannel, 0, len(paygate.ReconChannels))
	for _, ch := range paygate.ReconChannels {
		out = append(out, reconChannel{Channel: ch, Title: channelTitle(ch)})
	}
	return out
}

// channelTitle is a channel's name as people write it.
func channelTitle(ch paygate.Channel) string {
	switch ch {
	case paygate.ChannelAlipay:
		return "Alipay"
	case paygate.ChannelWechat:
		return "WeChat Pay"
	}
	return string(ch)
}

// reconChannelParam reads a channel from a page's path or query: "" is
// every channel; anything but a channel with a bill is not found.
func reconChannelParam(v string) (paygate.Channel, error) {
	if v == "" {
		return "", nil
	}
	ch := paygate.Channel(v)
	if paygate.CheckReconChannel(ch) != nil {
		return "", paygate.Errorf(paygate.ENotFound, "%q is not a channel with bills (alipay, wechat)", v)
	}
	return ch, nil
}

// reconReport is a report with its channel's name.
type reconReport struct {
	*paygate.Reconciliation
	Title string
}

// reconListView is the list's data.
type reconListView struct {
	Reports  []reconReport
	Days     int
	Channel  paygate.Channel // the list's channel; "" for every channel
	Channels []reconChannel
}

// reconciliations lists the latest reports, newest day first, each day's
// channels side by side (one row each), or one channel's (?channel=).
func (c *Console) reconciliations(w http.ResponseWriter, r *http.Request, s *Session) error {
	ch, err := reconChannelParam(r.URL.Query().Get("channel"))
	if err != nil {
		return err
	}
	reps, err := c.store.ListReconciliations(r.Context(), ch, reconDays)
	if err != nil {
		return err
	}
	v := reconListView{Days: reconDays, Channel: ch, Channels: reconChannels()}
	for _, rep := range reps {
		v.Reports = append(v.Reports, reconReport{Reconciliation: rep, Title: channelTitle(rep.Channel)})
	}
	c.render(w, r, s, http.StatusOK, "reconciliations", v)
	return nil
}

// reconView is a day's reports: every channel's, or one channel's.
type reconView struct {
	Day         string
	Channel     paygate.Channel // the page's channel; "" for every channel
	Channels    []reconChannel
	Reports     []reconReport
	Differences []reconDiff
	RepairLog   []reconDiff
	CrossDay    []reconCross
	// Kept and DifferenceCount are the differences kept in detail and
	// found, over the reports shown.
	Kept, DifferenceCount int
}

// reconDiff is a difference with each side said in a few words and the
// name of its merchant and of its bill's channel.
type reconDiff struct {
	*paygate.ReconDifference
	Local, Channel string
	Merchant       string
	Bill           string
}

// reconCross is a cross-day entry with its bill's channel.
type reconCross struct {
	*paygate.ReconCrossDay
	Bill string
}

// reconciliation shows a day's reports: every channel's, or the one of
// the path's channel.
func (c *Console) reconciliation(w http.ResponseWriter, r *http.Request, s *Session) error {
	day := r.PathValue("day")
	if _, err := time.ParseInLocation("2006-01-02", day, Zone); err != nil {
		return paygate.Errorf(paygate.ENotFound, "%q is not a day like 2026-03-04", day)
	}
	only, err := reconChannelParam(r.PathValue("channel"))
	if err != nil {
		return err
	}
	channels := paygate.ReconChannels
	if only != "" {
		channels = []paygate.Channel{only}
	}
	v := reconView{Day: day, Channel: only, Channels: reconChannels()}
	names := c.merchantNames(r.Context())
	diffs := func(title string, list []*paygate.ReconDifference) []reconDiff {
		out := make([]reconDiff, 0, len(list))
		for _, d := range list {
			rd := reconDiff{ReconDifference: d, Local: sideSummary(d.Local), Channel: sideSummary(d.Channel), Bill: title}
			if d.MerchantID != 0 {
				rd.Merchant = names(d.MerchantID)
			}
			out = append(out, rd)
		}
		return out
	}
	for _, ch := range channels {
		rep, err := c.store.Reconciliation(r.Context(), day, ch)
		if paygate.ErrorCode(err) == paygate.ENotFound {
			continue
		}
		if err != nil {
			return err
		}
		title := channelTitle(ch)
		v.Reports = append(v.Reports, reconReport{Reconciliation: rep, Title: title})
		v.Differences = append(v.Differences, diffs(title, rep.Differences)...)
		v.RepairLog = append(v.RepairLog, diffs(title, rep.RepairLog)...)
		for _, x := range rep.CrossDay {
			v.CrossDay = append(v.CrossDay, reconCross{ReconCrossDay: x, Bill: title})
		}
		v.Kept += len(rep.Differences)
		v.DifferenceCount += rep.DifferenceCount
	}
	if len(v.Reports) == 0 {
		if only != "" {
			return paygate.Errorf(paygate.ENotFound, "%s's bill of %s was never reconciled", channelTitle(only), day)
		}
		return paygate.Errorf(paygate.ENotFound, "%s was never reconciled", day)
	}
	c.render(w, r, s, http.StatusOK, "reconciliation", v)
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
