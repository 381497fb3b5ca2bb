package sqlite

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/paygate/paygate"
)

// Checks of reconciliation input, made before anything is written, so that
// a bad report is EInvalid with a clear message and changes nothing. The
// schema's constraints check the same again.

// dayLayout is a reconciliation day: yyyy-MM-dd.
const dayLayout = "2006-01-02"

// checkDay rejects a day that is not a yyyy-MM-dd date.
func checkDay(day string) error {
	if _, err := time.Parse(dayLayout, day); err != nil {
		return paygate.Errorf(paygate.EInvalid, "reconciliation day %q is not a date (yyyy-mm-dd)", day)
	}
	return nil
}

// checkWindow rejects a window that ends before it starts.
func checkWindow(from, to time.Time) error {
	if to.Before(from) {
		return paygate.Errorf(paygate.EInvalid, "book window ends (%s) before it starts (%s)",
			to.Format(time.RFC3339Nano), from.Format(time.RFC3339Nano))
	}
	return nil
}

// differenceKinds are the kinds of paygate.ReconDifference.
var differenceKinds = map[string]bool{
	"missing_local": true, "missing_channel": true, "status_mismatch": true,
	"amount_mismatch": true, "refund_mismatch": true,
}

// checkReconciliation checks a report before SaveReconciliation writes it.
func checkReconciliation(r *paygate.Reconciliation) error {
	if r == nil {
		return paygate.Errorf(paygate.EInvalid, "no reconciliation to save")
	}
	if err := checkDay(r.Day); err != nil {
		return err
	}
	if r.Status != paygate.ReconDone && r.Status != paygate.ReconFailed {
		return paygate.Errorf(paygate.EInvalid, "reconciliation of %s: status %q is neither %q nor %q",
			r.Day, r.Status, paygate.ReconDone, paygate.ReconFailed)
	}
	for i, d := range r.Differences {
		if err := checkDifference(d); err != nil {
			return paygate.Errorf(paygate.EInvalid, "reconciliation of %s: difference %d: %s", r.Day, i, err)
		}
	}
	for i, c := range r.CrossDay {
		if err := checkCrossDay(c); err != nil {
			return paygate.Errorf(paygate.EInvalid, "reconciliation of %s: cross-day entry %d: %s", r.Day, i, err)
		}
	}
	return nil
}

func checkDifference(d *paygate.ReconDifference) error {
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

func checkCrossDay(c *paygate.ReconCrossDay) error {
	switch {
	case c == nil:
		return fmt.Errorf("missing")
	case c.Kind != paygate.BookPayment && c.Kind != paygate.BookRefund:
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
