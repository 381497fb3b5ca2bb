// Package dst is deterministic simulation testing of the gateway, in the
// manner of TigerBeetle's VOPR and FoundationDB's simulator: a
// gateway.Service, a real store (wrapped by faultstore) and the Alipay
// simulator in one process and one goroutine, on a virtual clock, talking
// over an in-memory network, with one seeded PRNG deciding the workload, the
// store and channel faults and the interleaving of "concurrent" work
// (notification delivery, compensation, a racing close, the buyer). The same
// seed gives the same run, so a failure found once replays.
//
// World is the wiring, also used by the gateway's per-step failure tests;
// Run is one seed; Check compares every order with the simulator's truth.
package dst

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/faultstore"
	"github.com/paygate/paygate/gateway"
)

// AppID is the simulated merchant application.
const AppID = "2021000000000001"

// Epoch is where every World's clock starts.
func Epoch() time.Time { return time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) }

// Keys are the app's and the simulator's RSA keys; making them is slow, so
// one set serves many worlds.
type Keys struct{ App, Alipay *rsa.PrivateKey }

// NewKeys makes a fresh pair of 2048-bit keys (test keys only).
func NewKeys() (Keys, error) {
	app, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return Keys{}, err
	}
	ali, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return Keys{}, err
	}
	return Keys{App: app, Alipay: ali}, nil
}

// Config sets up a World.
type Config struct {
	// Store is the real store; the World wraps it in a faultstore.Store.
	Store paygate.Store
	Keys  Keys
	// Clock, when nil, is a new one at Epoch().
	Clock *Clock
	// Seed seeds the simulator's fault dice.
	Seed int64
	// SimFaults are the simulator's own faults (unknown answers, cancel
	// retry, bad signatures, notification drops and duplicates); faults
	// that wait on real time (latency, timeout, notify delay) are refused.
	SimFaults alipaysim.Faults
	Logger    *slog.Logger
	// Jobs gives the gateway a job queue (World.Jobs): Recover then runs the
	// compensation and refund resolution the gateway enqueued, as River
	// would, and nothing else. Without it Recover compensates every pending
	// order and resolves every pending refund itself.
	Jobs bool
}

// World is one gateway, its store and the simulator on one virtual clock.
type World struct {
	Clock    *Clock
	Store    *faultstore.Store
	Sim      *alipaysim.Server
	Net      *Net
	Svc      *gateway.Service
	Merchant *paygate.Merchant
	// Jobs is the gateway's job queue when Config.Jobs is set, else nil.
	Jobs *Jobs
}

// Timing of the gateway in a World (virtual time).
const (
	PollInterval   = 3 * time.Second
	PollTimeout    = 15 * time.Second
	PayDelay       = 5 * time.Second // a 29… buyer confirms while the loop polls
	CancelInterval = 2 * time.Second
)

// New wires a World and creates its merchant.
func New(ctx context.Context, cfg Config) (*World, error) {
	f := cfg.SimFaults
	if f.LatencyMS != 0 || f.TimeoutRate != 0 || f.NotifyDelayMS != 0 {
		return nil, fmt.Errorf("dst: simulator faults that wait on real time are not deterministic")
	}
	if cfg.Clock == nil {
		cfg.Clock = NewClock(Epoch())
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w := &World{Clock: cfg.Clock, Store: faultstore.New(cfg.Store), Net: &Net{}}
	hc := &http.Client{Transport: w.Net}
	sim, err := alipaysim.New(alipaysim.Config{
		AlipayKey: cfg.Keys.Alipay, Apps: []alipaysim.App{{AppID: AppID, PublicKey: &cfg.Keys.App.PublicKey}},
		Faults: cfg.SimFaults, Now: w.Clock.Now, HTTPClient: hc, Logger: cfg.Logger, PayDelay: PayDelay,
		Seed: cfg.Seed, ManualNotify: true,
	})
	if err != nil {
		return nil, err
	}
	w.Sim = sim
	ch, err := alipay.New(alipay.Config{AppID: AppID, GatewayURL: simURL, PrivateKey: cfg.Keys.App,
		AlipayPublicKey: &cfg.Keys.Alipay.PublicKey, HTTPClient: hc, Now: w.Clock.Now})
	if err != nil {
		sim.Close()
		return nil, err
	}
	gch, err := gateway.NewAlipayChannel(ch, gateway.AlipayConfig{NotifyURL: notifyURL})
	if err != nil {
		sim.Close()
		return nil, err
	}
	gcfg := gateway.Config{
		Store: w.Store, Channels: []gateway.Channel{gch}, Logger: cfg.Logger, Now: w.Clock.Now, Sleep: w.Clock.Sleep,
		PollInterval: PollInterval, PollTimeout: PollTimeout, CancelInterval: CancelInterval,
		CallTimeout: time.Minute,
	}
	if cfg.Jobs {
		w.Jobs = &Jobs{}
		gcfg.Jobs = w.Jobs
	}
	w.Svc, err = gateway.New(gcfg)
	if err != nil {
		sim.Close()
		return nil, err
	}
	w.Net.Sim = sim
	w.Net.Notify = http.HandlerFunc(w.serveNotify)
	w.Merchant = &paygate.Merchant{Name: "dst", AccessKey: "ak_dst_" + rand.Text(), SecretKey: "sk", WebhookSecret: "wh", CreatedAt: w.Clock.Now()}
	if err := cfg.Store.CreateMerchant(ctx, w.Merchant); err != nil {
		sim.Close()
		return nil, err
	}
	return w, nil
}

// serveNotify is the gateway's /notify/alipay as httpapi serves it.
func (w *World) serveNotify(rw http.ResponseWriter, r *http.Request) {
	form, err := alipay.ReadNotificationForm(r)
	if err == nil {
		err = w.Svc.HandleNotification(r.Context(), form)
	}
	if err != nil {
		rw.Write([]byte("failure"))
		return
	}
	rw.Write([]byte(alipay.NotifyAck))
}

// Close stops the simulator; the store belongs to the caller.
func (w *World) Close() error { return w.Sim.Close() }

// Subject is the subject every order of a World carries: it names the
// merchant's out_trade_no, which the simulator never sees (the gateway sends
// its own channel number), so Check can match a trade to its order.
func Subject(outTradeNo string) string { return "dst " + outTradeNo }

// Orders lists the merchant's orders, oldest first.
func (w *World) Orders(ctx context.Context) ([]*paygate.Order, error) {
	var all []*paygate.Order
	f := paygate.OrderFilter{MerchantID: w.Merchant.ID, Limit: 100}
	for {
		page, err := w.Store.Inner().ListOrders(ctx, f)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < f.Limit {
			break
		}
		f.BeforeID = page[len(page)-1].ID
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	return all, nil
}

// DeliverAll delivers every due notification, in stableOrder; it returns
// how many.
func (w *World) DeliverAll(ctx context.Context) int {
	n := 0
	first := func(due []alipaysim.NotifyAttempt) int { return stableOrder(due)[0] }
	for ; n < 10_000; n++ {
		if _, ok := w.Sim.DeliverDue(ctx, first); !ok {
			break
		}
	}
	return n
}

// stableOrder orders due notifications by what does not depend on random
// ids (the gateway's channel numbers, the simulator's trade numbers and
// notify ids): due time, then the order's subject, status and refund
// fields. Two notifications that tie are alike in everything the gateway
// acts on.
func stableOrder(due []alipaysim.NotifyAttempt) []int {
	idx := make([]int, len(due))
	for i := range idx {
		idx[i] = i
	}
	key := func(a alipaysim.NotifyAttempt) string {
		f := a.Form
		return strings.Join([]string{f["subject"], a.TradeStatus, f["refund_fee"], f["gmt_refund"], f["gmt_close"], f["total_amount"]}, "\x00")
	}
	sort.SliceStable(idx, func(i, j int) bool {
		a, b := due[idx[i]], due[idx[j]]
		if !a.At.Equal(b.At) {
			return a.At.Before(b.At)
		}
		return key(a) < key(b)
	})
	return idx
}

// drainSteps are the clock moves of Recover: past the barcode window,
// compensation's first look, QR expiries, and Alipay's whole notification
// retry schedule (about 24 h).
var drainSteps = []time.Duration{0, time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 16 * time.Hour}

// Recover turns every fault and hook off and lets the system settle as it
// would once the outage is over: it delivers every notification, runs
// compensation for every pending order and resolution for every pending
// refund (with Config.Jobs: the jobs the gateway enqueued, when due), and
// moves the clock on, until past every window and retry.
func (w *World) Recover(ctx context.Context) error {
	w.Store.SetPlan(nil)
	w.Store.OnCall(nil)
	w.Net.SetFaults(nil)
	w.Net.OnCall(nil)
	w.Clock.OnSleep(nil)
	if err := w.Sim.SetFaults(alipaysim.Faults{}); err != nil {
		return err
	}
	for _, d := range drainSteps {
		w.Clock.Advance(d)
		w.DeliverAll(ctx)
		if w.Jobs != nil {
			for range 10_000 {
				if _, _, ok := w.RunJob(ctx, nil); !ok {
					break
				}
			}
			w.DeliverAll(ctx)
			continue
		}
		orders, err := w.Orders(ctx)
		if err != nil {
			return err
		}
		for _, o := range orders {
			if o.Status == paygate.StatusPending {
				w.Svc.CompensateOrder(ctx, o.ID) // an error means: look again later
			}
			refunds, err := w.Store.Inner().RefundsByOrder(ctx, o.ID)
			if err != nil {
				return err
			}
			for _, r := range refunds {
				if r.Status == paygate.RefundPending {
					w.Svc.ResolveRefund(ctx, o.ID, r.OutRequestNo)
				}
			}
		}
		w.DeliverAll(ctx)
	}
	return nil
}
