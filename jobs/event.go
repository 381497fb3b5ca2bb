package jobs

import (
	"context"
	"fmt"

	"github.com/paygate/paygate"
)

// EventService is merchants' webhook events as the events API and the CLI
// see them: listed, inspected with their attempts, and re-sent. A
// merchantID of 0 is the operator's view (any merchant); otherwise another
// merchant's event is not found.
type EventService struct {
	Store paygate.Store
	// Queue enqueues re-sends; a *Queue with the delivery worker registered
	// (RegisterWebhooks), started or not.
	Queue paygate.JobQueue
}

// ListEvents pages events, newest first; f.MerchantID scopes them.
func (s *EventService) ListEvents(ctx context.Context, f paygate.EventFilter) ([]*paygate.Event, error) {
	return s.Store.ListEvents(ctx, f)
}

// Event returns one event and its delivery attempts, oldest first.
func (s *EventService) Event(ctx context.Context, merchantID int64, id string) (*paygate.Event, []*paygate.WebhookAttempt, error) {
	e, err := s.event(ctx, merchantID, id)
	if err != nil {
		return nil, nil, err
	}
	attempts, err := s.Store.WebhookAttempts(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return e, attempts, nil
}

// ResendEvent delivers an event again, whatever its state (pending, dead
// or delivered): it clears its DeadAt and DeliveredAt and enqueues a
// delivery with a full schedule of attempts, both in one transaction. It
// returns the event as it now is.
func (s *EventService) ResendEvent(ctx context.Context, merchantID int64, id string) (*paygate.Event, error) {
	if _, err := s.event(ctx, merchantID, id); err != nil {
		return nil, err
	}
	err := s.Store.Tx(ctx, func(tx paygate.StoreTx) error {
		wt, ok := tx.(paygate.WebhookTx)
		if !ok {
			return fmt.Errorf("resend event: %T cannot revive events", tx)
		}
		if err := wt.ReviveEvent(ctx, id); err != nil {
			return err
		}
		return s.Queue.Enqueue(ctx, tx, paygate.Job{Kind: paygate.JobDeliverEvent, EventID: id})
	})
	if err != nil {
		return nil, fmt.Errorf("resend event %s: %w", id, err)
	}
	return s.Store.EventByID(ctx, id)
}

// event reads an event of merchantID's (any merchant's when 0).
func (s *EventService) event(ctx context.Context, merchantID int64, id string) (*paygate.Event, error) {
	e, err := s.Store.EventByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if merchantID != 0 && e.MerchantID != merchantID {
		return nil, paygate.Errorf(paygate.ENotFound, "event %s not found", id)
	}
	return e, nil
}
