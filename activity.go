package paygate

import (
	"context"
	"time"
)

// OrderActivity is one thing that happened to an order outside the state
// machine, kept for the operator's timeline: a call made to the channel for
// it, with its outcome, or a notification the channel sent about it.
//
// It is diagnostic only. An order's money state lives in orders, refunds
// and events, written in transactions, and never depends on activities:
// they are written afterwards, in batches, by an asynchronous writer that
// may drop them under load and may lose the last fraction of a second of
// them in a crash. They hold nothing secret (no keys, no signatures, no
// notification forms) and nothing personal beyond what the order holds.
type OrderActivity struct {
	ID      int64
	OrderID int64
	At      time.Time // when the call started, or the notification arrived
	Kind    string    // ActivityChannelCall or ActivityNotification
	// Name is the channel method for a call ("alipay.trade.query"), the
	// trade_status for a notification ("TRADE_SUCCESS").
	Name string
	// Outcome is one of the Activity… outcomes of its kind.
	Outcome string
	// Code is what the channel answered: its code and sub_code
	// ("40004/ACQ.TRADE_NOT_EXIST", "10003"), empty when it said nothing.
	Code string
	// Detail is a short line for a person: the channel's message, the trade
	// status a query found, why a notification was not applied. At most
	// MaxActivityDetail bytes.
	Detail  string
	Latency time.Duration // a call's, retries included; 0 for a notification
}

// Activity kinds.
const (
	ActivityChannelCall  = "channel_call"
	ActivityNotification = "notification"
)

// Outcomes of a channel call (ActivityChannelCall).
const (
	ActivitySuccess = "success" // a final answer: created, paid, closed, refunded, …
	ActivityPaying  = "paying"  // the buyer is still to pay or confirm
	ActivityFailed  = "failed"  // a definite refusal, or a call never sent: nothing happened
	ActivityUnknown = "unknown" // no clear answer: settled later by query
)

// Outcomes of a notification (ActivityNotification).
const (
	ActivityApplied   = "applied"   // it changed the order
	ActivityDuplicate = "duplicate" // verified, and it changed nothing
	ActivityIgnored   = "ignored"   // not applied now (deferred, or an error): the channel sends it again
	ActivityRejected  = "rejected"  // it names the order but does not match it (amount, app, seller)
)

// MaxActivityDetail bounds OrderActivity.Detail, in bytes.
const MaxActivityDetail = 200

// ActivityStore keeps order activities. It is part of Store.
type ActivityStore interface {
	// RecordActivities inserts the batch in one transaction, setting each
	// one's ID (and At, when zero, to now); all are written or none. A
	// Detail longer than MaxActivityDetail is cut (never inside a UTF-8
	// character).
	RecordActivities(ctx context.Context, batch []*OrderActivity) error
	// ActivitiesByOrder lists the order's activities, oldest first (by At,
	// then ID); an order without any has none.
	ActivitiesByOrder(ctx context.Context, orderID int64) ([]*OrderActivity, error)
	// DeleteActivitiesBefore deletes the activities with At before before
	// (retention) and returns how many it deleted.
	DeleteActivitiesBefore(ctx context.Context, before time.Time) (int64, error)
}

// ActivityDetail cuts s to MaxActivityDetail bytes without splitting a
// UTF-8 character, for OrderActivity.Detail.
func ActivityDetail(s string) string {
	if len(s) <= MaxActivityDetail {
		return s
	}
	cut := MaxActivityDetail
	for cut > 0 && s[cut]&0xC0 == 0x80 { // a continuation byte: back to the character's start
		cut--
	}
	return s[:cut]
}
