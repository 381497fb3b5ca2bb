package gateway_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/gateway"
	"github.com/paygate/paygate/jobs"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/sqlite"
)

// jobProbe stands between the gateway and its store and job queue (River, on
// the same database): it fails on demand every transaction that enqueued a
// webhook delivery, after the enqueue (the store failing late), or the
// delivery enqueues themselves.
type jobProbe struct {
	paygate.Store
	queue *jobs.Queue
	// deliveries counts the delivery jobs of an event in River's table.
	deliveries func(t *testing.T, eventID string) int
	// allDeliveries counts every delivery job in River's table.
	allDeliveries func(t *testing.T) int

	failCommit  atomic.Bool
	failEnqueue atomic.Bool

	mu        sync.Mutex
	delivered map[paygate.StoreTx]bool // transactions that enqueued a delivery
}

var errInjected = errors.New("injected store failure after the enqueue")

func (p *jobProbe) Tx(ctx context.Context, fn func(tx paygate.StoreTx) error) error {
	return p.Store.Tx(ctx, func(tx paygate.StoreTx) error {
		defer func() {
			p.mu.Lock()
			delete(p.delivered, tx)
			p.mu.Unlock()
		}()
		if err := fn(tx); err != nil {
			return err
		}
		p.mu.Lock()
		enqueued := p.delivered[tx]
		p.mu.Unlock()
		if enqueued && p.failCommit.Load() {
			return errInjected // rolls back the change, its event and its job
		}
		return nil
	})
}

func (p *jobProbe) Enqueue(ctx context.Context, tx paygate.StoreTx, job paygate.Job) error {
	if job.Kind == paygate.JobDeliverEvent {
		if p.failEnqueue.Load() {
			return errors.New("injected enqueue failure")
		}
		p.mu.Lock()
		p.delivered[tx] = true
		p.mu.Unlock()
	}
	return p.queue.Enqueue(ctx, tx, job)
}

// withJobs wires the real River queue on the store's own database (not
// started: the jobs stay in its table to be counted) behind probe.
func withJobs(t *testing.T, probe *jobProbe) option {
	return func(g *gateway.Config, _ *alipaysim.Config) {
		ctx := context.Background()
		probe.Store, probe.delivered = g.Store, map[paygate.StoreTx]bool{}
		const where = ` FROM river_job WHERE kind = 'deliver_event'`
		switch st := g.Store.(type) {
		case *sqlite.Store:
			if err := jobs.MigrateSQLite(ctx, st.DB()); err != nil {
				t.Fatal(err)
			}
			q, err := jobs.NewSQLite(st.DB(), jobs.Config{})
			if err != nil {
				t.Fatal(err)
			}
			probe.queue = q
			count := func(t *testing.T, query string, args ...any) (n int) {
				if err := st.DB().QueryRow(query, args...).Scan(&n); err != nil && !errors.Is(err, sql.ErrNoRows) {
					t.Fatal(err)
				}
				return n
			}
			probe.deliveries = func(t *testing.T, id string) int {
				return count(t, `SELECT count(*)`+where+` AND json_extract(args, '$.event_id') = ?`, id)
			}
			probe.allDeliveries = func(t *testing.T) int { return count(t, `SELECT count(*)`+where) }
		case *postgres.Store:
			if err := jobs.MigratePostgres(ctx, st.DB()); err != nil {
				t.Fatal(err)
			}
			q, err := jobs.NewPostgres(st.DB(), jobs.Config{})
			if err != nil {
				t.Fatal(err)
			}
			probe.queue = q
			count := func(t *testing.T, query string, args ...any) (n int) {
				if err := st.DB().QueryRow(ctx, query, args...).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			probe.deliveries = func(t *testing.T, id string) int {
				return count(t, `SELECT count(*)`+where+` AND args->>'event_id' = $1`, id)
			}
			probe.allDeliveries = func(t *testing.T) int { return count(t, `SELECT count(*)`+where) }
		default:
			t.Fatalf("no job queue for %T", g.Store)
		}
		g.Store, g.Jobs = probe, probe
	}
}

// notifyPaid hands the gateway Alipay's paid notification for o, signed as
// the simulator signs (the simulator's own notifications are dropped in
// these tests, so that nothing races the change under test).
func (e *env) notifyPaid(t *testing.T, o *paygate.Order) error {
	t.Helper()
	_, ali := keys(t)
	form := map[string][]string{
		"notify_id": {"n_" + o.ChannelNo}, "notify_type": {"trade_status_sync"}, "app_id": {"2021000000000001"},
		"out_trade_no": {o.ChannelNo}, "trade_no": {e.trade(t, o).TradeNo}, "trade_status": {"TRADE_SUCCESS"},
		"total_amount": {o.TotalAmount.Yuan()}, "sign_type": {"RSA2"},
	}
	sig, err := alipay.Sign(ali, []byte(alipay.SignContent(form, "sign", "sign_type")))
	if err != nil {
		t.Fatal(err)
	}
	form["sign"] = []string{sig}
	return e.svc.HandleNotification(context.Background(), form)
}

// forceClosed closes o in the store alone, the state a late payment finds.
func (e *env) forceClosed(t *testing.T, o *paygate.Order) {
	t.Helper()
	ctx := context.Background()
	err := e.store.Tx(ctx, func(tx paygate.StoreTx) error {
		o, err := tx.OrderForUpdate(ctx, o.ID)
		if err != nil {
			return err
		}
		if err := o.Transition(paygate.StatusClosed, o.CreatedAt); err != nil {
			return err
		}
		return tx.UpdateOrder(ctx, o)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// stateChange is one change that tells the merchant: prepare brings order
// no to just before it, change makes it, state is what the merchant would
// be told about the order.
type stateChange struct {
	name    string
	event   string
	prepare func(t *testing.T, e *env, no string)
	change  func(t *testing.T, e *env, no string) error
	state   func(t *testing.T, e *env, no string) string
}

func qrOrder(t *testing.T, e *env, no string) {
	t.Helper()
	if _, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: no, TotalAmount: 500, Mode: paygate.ModeQR}); err != nil {
		t.Fatal(err)
	}
}

func scannedAndPaid(t *testing.T, e *env, no string) {
	t.Helper()
	qrOrder(t, e, no)
	if err := e.sim.PayQR(context.Background(), e.order(t, no).QRCode, ""); err != nil {
		t.Fatal(err)
	}
}

func orderStatus(t *testing.T, e *env, no string) string {
	t.Helper()
	o, err := e.store.OrderByOutTradeNo(context.Background(), e.merchant.ID, no)
	if paygate.ErrorCode(err) == paygate.ENotFound {
		return "none"
	} else if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s, %s refunded", o.Status, o.RefundedAmount)
}

var stateChanges = []stateChange{
	{
		name: "paid by notification", event: paygate.EventOrderPaid,
		prepare: scannedAndPaid,
		change:  func(t *testing.T, e *env, no string) error { return e.notifyPaid(t, e.order(t, no)) },
	},
	{
		name: "paid by the pay answer", event: paygate.EventOrderPaid,
		prepare: func(*testing.T, *env, string) {},
		change: func(t *testing.T, e *env, no string) error {
			_, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: no, TotalAmount: 500,
				Mode: paygate.ModeBarcode, AuthCode: "281234567890123456"})
			return err
		},
	},
	{
		name: "closed", event: paygate.EventOrderClosed,
		prepare: qrOrder,
		change: func(t *testing.T, e *env, no string) error {
			_, err := e.svc.CloseOrder(context.Background(), e.merchant, no)
			return err
		},
	},
	{
		name: "refund succeeded", event: paygate.EventRefundSucceeded,
		prepare: func(t *testing.T, e *env, no string) { e.paidOrder(t, no, 500) },
		change: func(t *testing.T, e *env, no string) error {
			_, _, err := e.svc.Refund(context.Background(), e.merchant, no, paygate.CreateRefund{OutRequestNo: "r1", Amount: 200})
			return err
		},
	},
	{
		name: "late payment", event: paygate.EventOrderLatePayment,
		prepare: func(t *testing.T, e *env, no string) {
			scannedAndPaid(t, e, no)
			e.forceClosed(t, e.order(t, no))
		},
		change: func(t *testing.T, e *env, no string) error { return e.notifyPaid(t, e.order(t, no)) },
	},
}

// TestEveryChangeEnqueuesItsDelivery: every state change that tells the
// merchant commits its event together with exactly one River job delivering
// it, in the change's own transaction: when the store fails after the
// enqueue, no job is left; when the enqueue fails, the change does not
// commit.
func TestEveryChangeEnqueuesItsDelivery(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		for _, sc := range stateChanges {
			t.Run(sc.name, func(t *testing.T) {
				t.Parallel()
				probe := &jobProbe{}
				e := setup(t, open, withFaults(alipaysim.Faults{NotifyDropRate: 1}), withJobs(t, probe))
				// River inserts only the kinds it has workers for.
				jobs.RegisterCompensation(probe.queue, e.svc)
				jobs.RegisterWebhooks(probe.queue, jobs.WebhookConfig{Store: e.store})

				t.Run("commits with one job", func(t *testing.T) {
					sc.prepare(t, e, "C")
					if err := sc.change(t, e, "C"); err != nil {
						t.Fatalf("%s: %v", sc.name, err)
					}
					evs := e.eventsOfType(t, sc.event)
					if len(evs) != 1 {
						t.Fatalf("%d %s events, want 1", len(evs), sc.event)
					}
					if n := probe.deliveries(t, evs[0]); n != 1 {
						t.Fatalf("%d delivery jobs for %s event %s, want 1", n, sc.event, evs[0])
					}
					if n, want := probe.allDeliveries(t), len(e.eventsOfType(t, "")); n != want {
						t.Fatalf("%d delivery jobs for %d events", n, want)
					}
				})
				for i, mode := range []struct {
					name string
					flag *atomic.Bool
				}{
					{"store fails after the enqueue", &probe.failCommit},
					{"enqueue fails", &probe.failEnqueue},
				} {
					t.Run(mode.name, func(t *testing.T) {
						no := fmt.Sprintf("F%d", i)
						sc.prepare(t, e, no)
						before, jobsBefore := orderStatus(t, e, no), probe.allDeliveries(t)
						mode.flag.Store(true)
						err := sc.change(t, e, no)
						mode.flag.Store(false)
						if err == nil {
							t.Fatalf("%s succeeded although its transaction failed", sc.name)
						}
						if after := orderStatus(t, e, no); after != before && !(before == "none" && strings.HasPrefix(after, "pending,")) {
							t.Errorf("order %s -> %s although the transaction failed", before, after)
						}
						if evs := e.eventsOfType(t, sc.event); len(evs) != 1 { // the one of "commits with one job"
							t.Errorf("%d %s events, want only the earlier one", len(evs), sc.event)
						}
						if n := probe.allDeliveries(t); n != jobsBefore {
							t.Errorf("%d delivery jobs after a failed transaction, %d before", n, jobsBefore)
						}
					})
				}
			})
		}
	})
}

// eventsOfType lists the ids of the merchant's events of type typ (all when
// typ is empty).
func (e *env) eventsOfType(t *testing.T, typ string) []string {
	t.Helper()
	evs, err := e.store.ListEvents(context.Background(), paygate.EventFilter{MerchantID: e.merchant.ID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ev := range evs {
		if typ == "" || ev.Type == typ {
			ids = append(ids, ev.ID)
		}
	}
	slices.Sort(ids)
	return ids
}
