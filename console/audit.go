package console

import (
	"context"

	"github.com/paygate/paygate"
)

// audit is what operator_actions records of one action: what it was, on
// which order and merchant (0: none), on what target, with a short detail.
// Neither Target nor Detail ever holds a secret: both are shown on pages
// and Target is logged.
type audit struct {
	Action     string
	OrderID    int64
	MerchantID int64
	Target     string
	Detail     string
}

// audited runs an operator's action between two records in
// operator_actions: the intent before it runs (if that cannot be written,
// nothing runs) and its outcome after, recorded even if the operator's
// request was cancelled meanwhile. fn may fill in what only the action
// knows (a new merchant's ID) on the record it is given. It returns the
// flash to show: fn's success sentence, or the error in plain words.
func (c *Console) audited(ctx context.Context, s *Session, a *audit, fn func(a *audit) (string, error)) (kind, text string) {
	record := func(ctx context.Context, detail, outcome string) error {
		return c.store.RecordOperatorAction(ctx, &paygate.OperatorAction{Operator: s.Username, Action: a.Action,
			OrderID: a.OrderID, MerchantID: a.MerchantID, Target: a.Target, Detail: detail, Outcome: outcome})
	}
	if err := record(ctx, a.Detail, paygate.OutcomeRequested); err != nil {
		c.log.ErrorContext(ctx, "console: cannot record an action's intent; not running it", "action", a.Action, "err", err)
		return "error", "Nothing was done: the action could not be recorded first (" + paygate.ErrorMessage(err) + "). Try again."
	}
	c.log.InfoContext(ctx, "console: action", "operator", s.Username, "action", a.Action, "order_id", a.OrderID,
		"merchant_id", a.MerchantID, "target", a.Target)
	done, err := fn(a)
	outcome := paygate.OutcomeSucceeded
	text = done
	switch code := paygate.ErrorCode(err); {
	case err == nil:
	case code == paygate.EChannel:
		outcome = paygate.OutcomeUnclear
		text = "Alipay's answer was unclear: " + paygate.ErrorMessage(err) +
			". Nothing is lost: the gateway settles it by querying Alipay; refresh the page in a minute."
	case code == paygate.EInternal:
		outcome = paygate.OutcomeFailed
		text = "It failed on an internal error (see the node's log)."
		c.log.ErrorContext(ctx, "console: action failed", "action", a.Action, "order_id", a.OrderID,
			"merchant_id", a.MerchantID, "err", err)
	default:
		outcome = paygate.OutcomeFailed
		text = "Refused: " + paygate.ErrorMessage(err)
	}
	if rerr := record(context.WithoutCancel(ctx), text, outcome); rerr != nil {
		c.log.ErrorContext(ctx, "console: cannot record an action's outcome", "action", a.Action, "outcome", outcome, "err", rerr)
	}
	if outcome == paygate.OutcomeSucceeded {
		return "ok", text
	}
	return "error", text
}
