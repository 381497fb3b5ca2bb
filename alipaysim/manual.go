package alipaysim

import (
	"cmp"
	"context"
	"maps"
	"slices"
)

// DeliverDue applies the clock to every trade, then makes one scheduled
// delivery of one due notification, in the caller's goroutine, exactly as
// the background notifier would (faults, retry schedule, history), and
// returns its attempt. pick chooses among the due notifications, described
// as the attempts they would make (At is when each fell due; Form lacks
// notify_time and sign), ordered by due time then creation; it returns an
// index, and nil picks the first. It reports false when nothing is due. It
// is meant for Config.ManualNotify; with the background notifier running
// the two may race for the same notification.
func (s *Server) DeliverDue(ctx context.Context, pick func(due []NotifyAttempt) int) (NotifyAttempt, bool) {
	s.mu.Lock()
	s.sweep(s.now())
	s.mu.Unlock()
	nt := s.notifier.takeDue(pick)
	if nt == nil {
		return NotifyAttempt{}, false
	}
	s.notifier.deliver(ctx, nt)
	h := s.notifier.history()
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].NotifyID == nt.ID {
			return h[i], true
		}
	}
	return NotifyAttempt{NotifyID: nt.ID}, true
}

// takeDue marks one due notification in flight and returns it; nil when
// none is due.
func (n *notifier) takeDue(pick func([]NotifyAttempt) int) *notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.now()
	var due []*notification
	for id, nt := range n.pending {
		if !n.inflight[id] && !nt.NextAt.After(now) {
			due = append(due, nt)
		}
	}
	if len(due) == 0 {
		return nil
	}
	slices.SortFunc(due, func(a, b *notification) int {
		return cmp.Or(a.NextAt.Compare(b.NextAt), cmp.Compare(a.seq, b.seq))
	})
	i := 0
	if pick != nil {
		views := make([]NotifyAttempt, len(due))
		for j, nt := range due {
			views[j] = NotifyAttempt{NotifyID: nt.ID, URL: nt.URL, AppID: nt.AppID, TradeNo: nt.TradeNo,
				OutTradeNo: nt.OutTradeNo, TradeStatus: nt.TradeStatus, Attempt: nt.Attempts + 1, At: nt.NextAt,
				Form: maps.Clone(nt.Fields)}
		}
		if i = pick(views); i < 0 || i >= len(due) {
			i = 0
		}
	}
	n.inflight[due[i].ID] = true
	return due[i]
}
