package gateway_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/gateway"
	"github.com/paygate/paygate/postgres"
	"github.com/paygate/paygate/postgres/pgtest"
	"github.com/paygate/paygate/sqlite"
	"github.com/paygate/paygate/testenv"
)

var (
	keysOnce        sync.Once
	appKey, simKey  *rsa.PrivateKey
	merchantCounter atomic.Int64
)

func keys(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		appKey, _ = rsa.GenerateKey(rand.Reader, 2048)
		simKey, _ = rsa.GenerateKey(rand.Reader, 2048)
	})
	return appKey, simKey
}

// env is one gateway wired to a real store, a real simulator over HTTP and a
// real notification endpoint.
type env struct {
	wx       *wxEnv // WeChat Pay's simulator, with withWechat
	svc      *gateway.Service
	store    paygate.Store
	sim      *alipaysim.Server
	merchant *paygate.Merchant
	channel  *alipay.Client
}

// storeKinds runs fn once per store: SQLite always; PostgreSQL when
// PAYGATE_TEST_POSTGRES_URL is set (required in CI).
func storeKinds(t *testing.T, fn func(t *testing.T, open func(t *testing.T) paygate.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, openSQLite)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testenv.Postgres(t)
		fn(t, openPostgres)
	})
}

func sealer(t *testing.T) *paygate.Sealer {
	t.Helper()
	k := make([]byte, 32)
	rand.Read(k)
	s, err := paygate.NewSealer(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openSQLite(t *testing.T) paygate.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "paygate.db"), sealer(t), sqlite.WithMigrate())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openPostgres(t *testing.T) paygate.Store {
	t.Helper()
	return pgtest.Open(t, sealer(t), postgres.WithMigrate())
}

type option func(*gateway.Config, *alipaysim.Config)

func setup(t *testing.T, open func(t *testing.T) paygate.Store, opts ...option) *env {
	t.Helper()
	app, ali := keys(t)
	st := open(t)
	simCfg := alipaysim.Config{AlipayKey: ali, PayDelay: 300 * time.Millisecond, SweepInterval: 50 * time.Millisecond,
		Apps: []alipaysim.App{{AppID: "2021000000000001", PublicKey: &app.PublicKey}}}
	gwCfg := gateway.Config{Store: st, PollInterval: 100 * time.Millisecond, PollTimeout: 1500 * time.Millisecond,
		CancelInterval: 50 * time.Millisecond, CallTimeout: 2 * time.Second}
	for _, o := range opts {
		o(&gwCfg, &simCfg)
	}
	sim, err := alipaysim.New(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(sim)
	t.Cleanup(func() { simSrv.Close(); sim.Close() })
	ch, err := alipay.New(alipay.Config{AppID: "2021000000000001", GatewayURL: simSrv.URL + "/gateway.do",
		PrivateKey: app, AlipayPublicKey: &ali.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: st, sim: sim, channel: ch}
	notify := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/notify/wechat" {
			body, err := io.ReadAll(r.Body)
			if err == nil {
				err = e.svc.HandleWechatNotification(r.Context(), r.Header, body)
			}
			if err != nil {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		form, err := alipay.ReadNotificationForm(r)
		if err == nil {
			err = e.svc.HandleNotification(r.Context(), form)
		}
		if err != nil {
			w.Write([]byte("failure"))
			return
		}
		w.Write([]byte(alipay.NotifyAck))
	}))
	t.Cleanup(notify.Close)
	var gch gateway.Channel = alipayCh(t, ch, notify.URL+"/notify/alipay")
	channels := []gateway.Channel{gch}
	for _, c := range gwCfg.Channels {
		switch c := c.(type) {
		case wrapChannel:
			channels[0] = c.wrap(gch)
		case wechatSlot:
			e.wx = wxSetup(t)
			e.wx.recv.srv.Close() // the gateway's own endpoint hears WeChat Pay instead
			wch, err := gateway.NewWechatChannel(e.wx.client(t, wxMchID, wxAppID, nil, e.wx.keys.apiv3),
				gateway.WechatConfig{NotifyURL: notify.URL + "/notify/wechat"})
			if err != nil {
				t.Fatal(err)
			}
			channels = append(channels, wch)
		}
	}
	gwCfg.Channels = channels
	if e.svc, err = gateway.New(gwCfg); err != nil {
		t.Fatal(err)
	}
	n := merchantCounter.Add(1)
	e.merchant = &paygate.Merchant{Name: "shop", AccessKey: fmt.Sprintf("ak_%d_%d", n, time.Now().UnixNano()),
		SecretKey: "sk", WebhookSecret: "wh", CreatedAt: time.Now()}
	if err := st.CreateMerchant(context.Background(), e.merchant); err != nil {
		t.Fatal(err)
	}
	return e
}

func withFaults(f alipaysim.Faults) option {
	return func(_ *gateway.Config, s *alipaysim.Config) { s.Faults = f }
}

// order returns the stored order.
func (e *env) order(t *testing.T, outTradeNo string) *paygate.Order {
	t.Helper()
	o, err := e.store.OrderByOutTradeNo(context.Background(), e.merchant.ID, outTradeNo)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// trade returns the simulator's truth for an order.
func (e *env) trade(t *testing.T, o *paygate.Order) alipaysim.TradeView {
	t.Helper()
	for _, tr := range e.sim.Trades() {
		if tr.OutTradeNo == o.ChannelNo {
			return tr
		}
	}
	t.Fatalf("simulator has no trade %s", o.ChannelNo)
	return alipaysim.TradeView{}
}

// eventually waits up to 10 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) create(t *testing.T, req paygate.CreateOrder) (*paygate.Order, bool, error) {
	t.Helper()
	if req.Subject == "" {
		req.Subject = "coffee"
	}
	return e.svc.CreateOrder(context.Background(), e.merchant, req)
}

// events lists the events recorded for an order.
func (e *env) events(t *testing.T, orderID int64) []string {
	t.Helper()
	evs, err := e.store.EventsByOrder(context.Background(), orderID)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range evs {
		types = append(types, ev.Type)
	}
	return types
}

// wrapChannel, set as an option's only gateway.Config.Channels, wraps the real
// channel that setup makes (to act at a chosen call, say). Its embedded
// Channel is nil: setup replaces it by what fn returns before any call.
type wrapChannel struct {
	gateway.Channel
	fn func(gateway.Channel) gateway.Channel
}

func (w wrapChannel) wrap(ch gateway.Channel) gateway.Channel { return w.fn(ch) }

// alipayCh is client as the gateway's Alipay channel; notifyURL "" is a
// loopback address nothing listens on (for tests that never notify).
func alipayCh(t *testing.T, client *alipay.Client, notifyURL string) *gateway.AlipayChannel {
	t.Helper()
	if notifyURL == "" {
		notifyURL = "http://127.0.0.1:9/notify/alipay"
	}
	ch, err := gateway.NewAlipayChannel(client, gateway.AlipayConfig{NotifyURL: notifyURL})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// wechatSlot, appended to an option's gateway.Config.Channels, asks setup
// for a WeChat Pay channel too, over its own simulator (env.wx), notifying
// the gateway's /notify/wechat.
type wechatSlot struct{ gateway.Channel }

func withWechat(g *gateway.Config, _ *alipaysim.Config) {
	g.Channels = append(g.Channels, wechatSlot{})
}
