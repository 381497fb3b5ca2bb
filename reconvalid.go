package paygate

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// Checks of reconciliation input, made by the stores before anything is
// written, so that a bad report is EInvalid with a clear message and
// changes nothing. The schemas' constraints check the same again.

// dayLayout is a reconciliation day: yyyy-MM-dd.
const dayLayout = "2006-01-02"

// CheckReconDay rejects a day that is not a yyyy-MM-dd date.
func CheckReconDay(day string) error {
	if _, err := time.Parse(dayLayout, day); err != nil {
		return Errorf(EInvalid, "reconciliation day %q is not a date (yyyy-mm-dd)", day)
	}
	return nil
}

// CheckReconChannel rejects a channel that is not one of ReconChannels
// (auto is no channel with a bill).
func CheckReconChannel(ch Channel) error {
	for _, c := range ReconChannels {
		if ch == c {
			return nil
		}
	}
	return Errorf(EInvalid, "reconciliation channel %q is neither %q nor %q", ch, ChannelAlipay, ChannelWechat)
}

// CheckBookWindow rejects a window of the books that ends before it starts.
func CheckBookWindow(from, to time.Time) error {
	if to.Before(from) {
		return Errorf(EInvalid, "book window ends (%s) before it starts (%s)",
			to.Format(time.RFC3339Nano), from.Format(time.RFC3339Nano))
	}
	return nil
}

// The kinds of ReconDifference (see package recon).
const (
	ReconMissingLocal   = "missing_local"
	ReconMissingChannel = "missing_channel"
	ReconStatusMismatch = "status_mismatch"
	ReconAmountMismatch = "amount_mismatch"
	ReconRefundMismatch = "refund_mismatch"
)

var differenceKinds = map[string]bool{
	ReconMissingLocal: true, ReconMissingChannel: true, ReconStatusMismatch: true,
	ReconAmountMismatch: true, ReconRefundMismatch: true,
}

// CheckReconciliation checks a report before SaveReconciliation writes it.
func CheckReconciliation(r *Reconciliation) error {
	if r == nil {
		return Errorf(EInvalid, "no reconciliation to save")
	}
	if err := CheckReconDay(r.Day); err != nil {
		return err
	}
	if err := CheckReconChannel(r.Channel); err != nil {
		return err
	}
	if r.Status != ReconDone && r.Status != ReconFailed {
		return Errorf(EInvalid, "reconciliation of %s: status %q is neither %q nor %q",
			r.Day, r.Status, ReconDone, ReconFailed)
	}
	for i, d := range r.Differences {
		if err := checkDifference(d); err != nil {
			return Errorf(EInvalid, "reconciliation of %s: difference %d: %s", r.Day, i, err)
		}
	}
	for i, c := range r.CrossDay {
		if err := checkCrossDay(c); err != nil {
			return Errorf(EInvalid, "reconciliation of %s: cross-day entry %d: %s", r.Day, i, err)
		}
	}
	return nil
}

func checkDifference(d *ReconDifference) error {
	switch {
	case d == nil:
		return fmt.Errorf("missing")
	case !differenceKinds[d.Kind]:
		return fmt.Errorf("unknown kind %q", d.Kind)
	case d.MerchantID < 0 || d.OrderID < 0:
		return fmt.Errorf("negative merchant or order ID")
	}
	for _, side := range []struct {
		name string
		v    json.RawMessage
	}{{"local", d.Local}, {"channel", d.Channel}} {
		if side.v != nil && (!json.Valid(side.v) || !utf8.Valid(side.v)) {
			return fmt.Errorf("%s side is not valid UTF-8 JSON", side.name)
		}
	}
	return nil
}

func checkCrossDay(c *ReconCrossDay) error {
	switch {
	case c == nil:
		return fmt.Errorf("missing")
	case c.Kind != BookPayment && c.Kind != BookRefund:
		return fmt.Errorf("unknown kind %q", c.Kind)
	case c.ChannelNo == "":
		return fmt.Errorf("no channel number")
	}
	for _, day := range []string{c.BookDay, c.BillDay} {
		if _, err := time.Parse(dayLayout, day); err != nil {
			return fmt.Errorf("day %q is not a date (yyyy-mm-dd)", day)
		}
	}
	return nil
}
