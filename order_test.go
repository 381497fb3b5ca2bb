package paygate

import (
	"testing"
	"time"
)

func TestTransition(t *testing.T) {
	t.Parallel()
	all := []OrderStatus{StatusPending, StatusPaid, StatusClosed, StatusRefunded}
	legal := map[[2]OrderStatus]bool{
		{StatusPending, StatusPaid}:   true,
		{StatusPending, StatusClosed}: true,
		{StatusPaid, StatusRefunded}:  true,
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, from := range all {
		for _, to := range all {
			o := &Order{OutTradeNo: "T1", Status: from}
			err := o.Transition(to, now)
			if legal[[2]OrderStatus{from, to}] {
				if err != nil || o.Status != to || !o.UpdatedAt.Equal(now) {
					t.Errorf("%s -> %s: %v, status %s", from, to, err, o.Status)
				}
				continue
			}
			if ErrorCode(err) != EConflict || o.Status != from {
				t.Errorf("%s -> %s: err %v, status %s; want conflict and unchanged", from, to, err, o.Status)
			}
		}
	}
	o := &Order{Status: StatusPending, TotalAmount: 1000}
	if o.Refundable() != 0 {
		t.Error("pending order is refundable")
	}
	o.Transition(StatusPaid, now)
	o.RefundedAmount = 300
	if o.Refundable() != 700 || !o.PaidAt.Equal(now) {
		t.Errorf("refundable %d, paid at %v", o.Refundable(), o.PaidAt)
	}
}
