package wechatpaysim_test

import (
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/wechatpay"
	"github.com/paygate/paygate/wechatpaysim"
)

// Test-only keys of the wechatpay package (see its testdata/README.md).
const (
	testdata       = "../wechatpay/testdata/"
	merchantSerial = "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567"
	platformSerial = "477ED0046A54F0360A72A63A8F2816312AAEAB53"
	pubKeyID       = "PUB_KEY_ID_0000000000000024101100397200000006"
	testMchID      = "1900000001"
	testAppID      = "wxd678efh567hg6787"
)

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func mustKey(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	k, err := wechatpay.LoadPrivateKey(testdata + name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func apiv3Key(t testing.TB) wechatpay.APIv3Key {
	t.Helper()
	k, err := wechatpay.LoadAPIv3Key(testdata + "apiv3_key.txt")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// env is a simulator on a real HTTP server, a merchant client and a
// notification receiver that verifies and decrypts with the wechatpay
// package.
type env struct {
	sim    *wechatpaysim.Server
	srv    *httptest.Server
	client *wechatpay.Client
	clock  *clock
	recv   *receiver
	cfg    wechatpaysim.Config
}

type options struct {
	pubKeyMode bool
	dataDir    string
	faults     wechatpaysim.Faults
	timeout    time.Duration
}

func setup(t *testing.T, o options) *env {
	t.Helper()
	clk := &clock{t: time.Date(2024, 5, 18, 12, 0, 0, 0, wechatpay.ChinaTime)}
	signer := wechatpay.Signer{ID: platformSerial, Key: mustKey(t, "wechatpay_private_key.pem")}
	if o.pubKeyMode {
		signer = wechatpay.Signer{ID: pubKeyID, Key: mustKey(t, "wechatpay_pubkey_mode_private_key.pem")}
	}
	merchantKey := mustKey(t, "merchant_private_key.pem")
	cfg := wechatpaysim.Config{
		WechatPayKey: signer.Key, WechatPayID: signer.ID, DataDir: o.dataDir, Faults: o.faults, Now: clk.Now,
		SweepInterval: 5 * time.Millisecond, PayDelay: 3 * time.Second,
		Merchants: []wechatpaysim.Merchant{{MchID: testMchID, AppID: testAppID, SerialNo: merchantSerial,
			PublicKey: &merchantKey.PublicKey, APIv3Key: apiv3Key(t)}},
	}
	sim, err := wechatpaysim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); _ = sim.Close() })
	verifier, err := wechatpay.NewVerifier(clk.Now, signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	recv := newReceiver(t, verifier, apiv3Key(t))
	client, err := wechatpay.New(wechatpay.Config{
		MchID: testMchID, AppID: testAppID, BaseURL: srv.URL, PrivateKey: merchantKey, SerialNo: merchantSerial,
		WechatPayKeys: []wechatpay.PublicKey{signer.PublicKey()}, APIv3Key: apiv3Key(t), NotifyURL: recv.srv.URL + "/notify",
		Now: clk.Now, Timeout: o.timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &env{sim: sim, srv: srv, client: client, clock: clk, recv: recv, cfg: cfg}
}

// receiver is the merchant's notify_url: every notification is verified
// and decrypted by wechatpay.ParseNotification; fail makes it refuse the
// next deliveries with a 500.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []*wechatpay.Notification
	bad  []error
	fail int
}

func newReceiver(t *testing.T, v *wechatpay.Verifier, key wechatpay.APIv3Key) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := wechatpay.ReadNotification(req)
		var n *wechatpay.Notification
		if err == nil {
			n, err = wechatpay.ParseNotification(req.Header, body, v, key)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil {
			r.bad = append(r.bad, err)
			wechatpay.NotifyFailure(w, wechatpay.NotifyStatus(err), "bad notification")
			return
		}
		if r.fail > 0 {
			r.fail--
			wechatpay.NotifyFailure(w, http.StatusInternalServerError, "not now")
			return
		}
		r.got = append(r.got, n)
		wechatpay.NotifySuccess(w)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) failNext(n int) { r.mu.Lock(); r.fail = n; r.mu.Unlock() }

func (r *receiver) notes() []*wechatpay.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bad) > 0 {
		panic(errors.Join(r.bad...))
	}
	return append([]*wechatpay.Notification(nil), r.got...)
}

// waitNotes waits (real time, bounded) until n notifications arrived.
func (r *receiver) waitNotes(t *testing.T, n int) []*wechatpay.Notification {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := r.notes()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d notifications arrived, want %d", len(got), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wantCode fails unless err is a wechatpay.Error with this HTTP status and code.
func wantCode(t *testing.T, err error, status int, code string) *wechatpay.Error {
	t.Helper()
	var we *wechatpay.Error
	if !errors.As(err, &we) || we.Status != status || we.Code != code {
		t.Fatalf("error %v, want HTTP %d %s", err, status, code)
	}
	return we
}

func (e *env) view(t *testing.T, outTradeNo string) wechatpaysim.TradeView {
	t.Helper()
	for _, v := range e.sim.Trades() {
		if v.OutTradeNo == outTradeNo {
			return v
		}
	}
	t.Fatalf("no trade %s", outTradeNo)
	return wechatpaysim.TradeView{}
}
