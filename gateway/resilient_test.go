package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/gateway"
)

const testAppID = "2021000000000001"

// counter is a Channel that counts the calls reaching the channel below it:
// the calls Alipay actually receives.
type counter struct {
	gateway.Channel
	mu    sync.Mutex
	n     map[string]int
	after func(method string) // optional: runs after each call returns
}

func (c *counter) add(method string) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[method]++
	c.mu.Unlock()
	if c.after != nil {
		c.after(method)
	}
}

func (c *counter) count(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[method]
}

func (c *counter) Precreate(ctx context.Context, req gateway.PrecreateRequest) (*gateway.Precreated, error) {
	defer c.add(c.Method(gateway.OpPrecreate))
	return c.Channel.Precreate(ctx, req)
}

func (c *counter) Pay(ctx context.Context, req gateway.PayRequest) (*gateway.Trade, error) {
	defer c.add(c.Method(gateway.OpPay))
	return c.Channel.Pay(ctx, req)
}

func (c *counter) Query(ctx context.Context, channelNo string) (*gateway.Trade, error) {
	defer c.add(c.Method(gateway.OpQuery))
	return c.Channel.Query(ctx, channelNo)
}

func (c *counter) Cancel(ctx context.Context, channelNo string) (*gateway.Cancellation, error) {
	defer c.add(c.Method(gateway.OpCancel))
	return c.Channel.Cancel(ctx, channelNo)
}

func (c *counter) Close(ctx context.Context, channelNo string) error {
	defer c.add(c.Method(gateway.OpClose))
	return c.Channel.Close(ctx, channelNo)
}

func (c *counter) Refund(ctx context.Context, req gateway.RefundRequest) (*gateway.RefundResult, error) {
	defer c.add(c.Method(gateway.OpRefund))
	return c.Channel.Refund(ctx, req)
}

func (c *counter) RefundQuery(ctx context.Context, ref gateway.RefundRef) (*gateway.RefundResult, error) {
	defer c.add(c.Method(gateway.OpRefundQuery))
	return c.Channel.RefundQuery(ctx, ref)
}

// simChannel starts a simulator over HTTP and returns it with a real client.
func simChannel(t *testing.T, faults alipaysim.Faults, seed int64) (*alipaysim.Server, *alipay.Client) {
	t.Helper()
	app, ali := keys(t)
	sim, err := alipaysim.New(alipaysim.Config{AlipayKey: ali, PayDelay: 300 * time.Millisecond,
		SweepInterval: 50 * time.Millisecond, Faults: faults, Seed: seed,
		Apps: []alipaysim.App{{AppID: testAppID, PublicKey: &app.PublicKey}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	ch, err := alipay.New(alipay.Config{AppID: testAppID, GatewayURL: srv.URL + "/gateway.do",
		PrivateKey: app, AlipayPublicKey: &ali.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	return sim, ch
}

// fast shortens the retry waits of cfg for tests.
func fast(cfg gateway.ResilientConfig) gateway.ResilientConfig {
	if cfg.RetryBase == 0 {
		cfg.RetryBase, cfg.RetryMax = time.Millisecond, 5*time.Millisecond
	}
	return cfg
}

// resilient wraps a simulator's client, counted, in a ResilientChannel.
func resilient(t *testing.T, faults alipaysim.Faults, cfg gateway.ResilientConfig) (*gateway.ResilientChannel, *counter, *alipaysim.Server) {
	t.Helper()
	sim, client := simChannel(t, faults, 0)
	calls := &counter{Channel: alipayCh(t, client, "")}
	return gateway.NewResilientChannel(calls, fast(cfg)), calls, sim
}

// rEnv is a gateway whose channel is a ResilientChannel over a counted client.
type rEnv struct {
	*env
	rc    *gateway.ResilientChannel
	calls *counter
}

func setupResilient(t *testing.T, open func(t *testing.T) paygate.Store, faults alipaysim.Faults, cfg gateway.ResilientConfig) *rEnv {
	t.Helper()
	sim, client := simChannel(t, faults, 0)
	e := &rEnv{env: &env{store: open(t), sim: sim, channel: client}}
	notify := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	e.calls = &counter{Channel: alipayCh(t, client, notify.URL+"/notify/alipay")}
	e.rc = gateway.NewResilientChannel(e.calls, fast(cfg))
	var err error
	e.svc, err = gateway.New(gateway.Config{Store: e.store, Channels: []gateway.Channel{e.rc},
		PollInterval: 100 * time.Millisecond, PollTimeout: 1500 * time.Millisecond,
		CancelInterval: 50 * time.Millisecond, CallTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	n := merchantCounter.Add(1)
	e.merchant = &paygate.Merchant{Name: "shop", AccessKey: fmt.Sprintf("ak_r%d_%d", n, time.Now().UnixNano()),
		SecretKey: "sk", WebhookSecret: "wh", CreatedAt: time.Now()}
	if err := e.store.CreateMerchant(context.Background(), e.merchant); err != nil {
		t.Fatal(err)
	}
	return e
}

func setFaults(t *testing.T, sim *alipaysim.Server, f alipaysim.Faults) {
	t.Helper()
	if err := sim.SetFaults(f); err != nil {
		t.Fatal(err)
	}
}

func TestIsChannelFailure(t *testing.T) {
	t.Parallel()
	unknown := func(code, sub string, cause error) error {
		return gateway.AlipayError(&alipay.Error{Outcome: alipay.OutcomeUnknown, Method: alipay.MethodQuery, Code: code, SubCode: sub, Err: cause})
	}
	failed := func(sub string) error {
		return gateway.AlipayError(&alipay.Error{Outcome: alipay.OutcomeFailed, Method: alipay.MethodPay, Code: alipay.CodeBusinessFailed, SubCode: sub})
	}
	config := func(code string) error {
		return gateway.AlipayError(&alipay.Error{Outcome: alipay.OutcomeConfig, Method: alipay.MethodPay, Code: code})
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"success, or 10003 paying (nil error)", nil, false},
		{"an Alipay error not in the channel's terms", unknown("", "", errors.New("raw")).(*gateway.ChannelError).Err, true},
		{"connection refused", unknown("", "", errors.New("dial tcp 127.1.2.3:443: connection refused")), true},
		{"no answer within the deadline", unknown("", "", fmt.Errorf("no answer within the deadline: %w", context.DeadlineExceeded)), true},
		{"caller cancelled", unknown("", "", fmt.Errorf("cancelled before the answer came: %w", context.Canceled)), false},
		{"HTTP 502", unknown("", "", errors.New("HTTP 502 from the gateway")), true},
		{"unparseable body", unknown("", "", errors.New("no response node")), true},
		{"bad signature", unknown("10000", "", errors.New("response signature does not verify")), true},
		{"20000 system busy", unknown(alipay.CodeUnknown, "isp.unknow-error", nil), true},
		{"40004 ACQ.SYSTEM_ERROR", unknown(alipay.CodeBusinessFailed, alipay.SubCodeSystemError, nil), true},
		{"40005 rate limited", unknown(alipay.CodeCallLimited, "isv.app-call-limited", nil), true},
		{"wrapped 20000", fmt.Errorf("query: %w", unknown(alipay.CodeUnknown, "", nil)), true},
		{"bare deadline", context.DeadlineExceeded, true},
		{"bare cancel", context.Canceled, false},
		{"40004 ACQ.TRADE_NOT_EXIST", failed(alipay.SubTradeNotExist), false},
		{"40004 ACQ.BUYER_BALANCE_NOT_ENOUGH", failed(alipay.SubBalanceNotEnough), false},
		{"40004 ACQ.PAYMENT_AUTH_CODE_INVALID", failed(alipay.SubAuthCodeInvalid), false},
		{"40002 invalid signature (config)", config(alipay.CodeInvalidArgument), false},
		{"20001 token (config)", config(alipay.CodeInsufficientToken), false},
		{"not sent: circuit open", fmt.Errorf("pay: %w: %w", gateway.ErrNotSent, paygate.Errorf(paygate.EChannelUnavailable, "open")), false},
	}
	for _, tt := range tests {
		if got := gateway.IsChannelFailure(tt.err); got != tt.want {
			t.Errorf("%s: IsChannelFailure(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

// TestResilientRetryPolicy drives each method against the simulator's faults
// and counts what reaches it: safe calls are repeated on channel failures
// only, pay never, cancel only when no answer came.
func TestResilientRetryPolicy(t *testing.T) {
	t.Parallel()
	type callFn func(ctx context.Context, ch gateway.Channel) error
	precreate := func(ctx context.Context, ch gateway.Channel) error {
		_, err := ch.Precreate(ctx, gateway.PrecreateRequest{ChannelNo: "R1", Amount: 100, Subject: "tea", TimeLeft: time.Hour})
		return err
	}
	pay := func(code string) callFn {
		return func(ctx context.Context, ch gateway.Channel) error {
			_, err := ch.Pay(ctx, gateway.PayRequest{ChannelNo: "R1", AuthCode: code, Amount: 100, Subject: "tea"})
			return err
		}
	}
	query := func(ctx context.Context, ch gateway.Channel) error {
		_, err := ch.Query(ctx, "R1")
		return err
	}
	cancel := func(ctx context.Context, ch gateway.Channel) error {
		_, err := ch.Cancel(ctx, "R1")
		return err
	}
	closeTrade := func(ctx context.Context, ch gateway.Channel) error {
		err := ch.Close(ctx, "R1")
		return err
	}
	refund := func(ctx context.Context, ch gateway.Channel) error {
		_, err := ch.Refund(ctx, gateway.RefundRequest{ChannelNo: "R1", Amount: 100, Total: 100, OutRequestNo: "RF1"})
		return err
	}
	refundQuery := func(ctx context.Context, ch gateway.Channel) error {
		_, err := ch.RefundQuery(ctx, gateway.RefundRef{ChannelNo: "R1", OutRequestNo: "RF1"})
		return err
	}
	gwErr := func(m string) alipaysim.Faults { return alipaysim.Faults{GatewayErrorRate: 1, Methods: []string{m}} }
	busy := func(m string) alipaysim.Faults { return alipaysim.Faults{UnknownRate: 1, Methods: []string{m}} }
	tests := []struct {
		name      string
		faults    alipaysim.Faults
		method    string
		call      callFn
		wantCalls int
		failure   bool // the result is a channel failure
	}{
		{"query: HTTP 502", gwErr(alipay.MethodQuery), alipay.MethodQuery, query, 3, true},
		{"query: 20000", busy(alipay.MethodQuery), alipay.MethodQuery, query, 3, true},
		{"query: forged answer", alipaysim.Faults{BadSignatureRate: 1}, alipay.MethodQuery, query, 3, true},
		{"query: trade not exist", alipaysim.Faults{}, alipay.MethodQuery, query, 1, false},
		{"close: HTTP 502", gwErr(alipay.MethodClose), alipay.MethodClose, closeTrade, 3, true},
		{"close: trade not exist", alipaysim.Faults{}, alipay.MethodClose, closeTrade, 1, false},
		{"refund: HTTP 502", gwErr(alipay.MethodRefund), alipay.MethodRefund, refund, 3, true},
		{"refund: trade not exist", alipaysim.Faults{}, alipay.MethodRefund, refund, 1, false},
		{"refund query: HTTP 502", gwErr(alipay.MethodRefundQuery), alipay.MethodRefundQuery, refundQuery, 3, true},
		{"precreate: HTTP 502", gwErr(alipay.MethodPrecreate), alipay.MethodPrecreate, precreate, 3, true},
		{"precreate: 20000", busy(alipay.MethodPrecreate), alipay.MethodPrecreate, precreate, 3, true},
		{"pay: HTTP 502", gwErr(alipay.MethodPay), alipay.MethodPay, pay("281234567890123456"), 1, true},
		{"pay: 20000", busy(alipay.MethodPay), alipay.MethodPay, pay("281234567890123456"), 1, true},
		{"pay: invalid code", alipaysim.Faults{}, alipay.MethodPay, pay("12345"), 1, false},
		{"pay: 10003 paying", alipaysim.Faults{}, alipay.MethodPay, pay("271234567890123456"), 1, false},
		{"cancel: HTTP 502", gwErr(alipay.MethodCancel), alipay.MethodCancel, cancel, 3, true},
		{"cancel: retry_flag=Y is the use case's", alipaysim.Faults{CancelRetryRate: 1}, alipay.MethodCancel, cancel, 1, true},
		{"cancel: 20000 is the use case's", busy(alipay.MethodCancel), alipay.MethodCancel, cancel, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc, calls, _ := resilient(t, tt.faults, gateway.ResilientConfig{BreakerFailures: 100})
			err := tt.call(context.Background(), rc)
			if got := calls.count(tt.method); got != tt.wantCalls {
				t.Errorf("%s reached the channel %d times, want %d (err %v)", tt.method, got, tt.wantCalls, err)
			}
			if got := gateway.IsChannelFailure(err); got != tt.failure {
				t.Errorf("IsChannelFailure(%v) = %v, want %v", err, got, tt.failure)
			}
		})
	}
}

// TestResilientQueryRecovers: with half the gateway calls failing, every
// query still gets its answer within the attempts. The seeded simulator
// fails some first attempts (more calls than queries reach it).
func TestResilientQueryRecovers(t *testing.T) {
	t.Parallel()
	sim, client := simChannel(t, alipaysim.Faults{}, 6)
	calls := &counter{Channel: alipayCh(t, client, "")}
	rc := gateway.NewResilientChannel(calls, fast(gateway.ResilientConfig{BreakerFailures: 100}))
	ctx := context.Background()
	if _, err := client.Pay(ctx, alipay.PayRequest{OutTradeNo: "Q1", AuthCode: "281234567890123456", TotalAmount: 100, Subject: "tea"}); err != nil {
		t.Fatal(err)
	}
	setFaults(t, sim, alipaysim.Faults{GatewayErrorRate: 0.5, Methods: []string{alipay.MethodQuery}})
	const queries = 8
	for i := range queries {
		resp, err := rc.Query(ctx, "Q1")
		if err != nil || !resp.Paid() {
			t.Fatalf("query %d: %+v, %v", i, resp, err)
		}
	}
	if n := calls.count(alipay.MethodQuery); n <= queries || n > 3*queries {
		t.Fatalf("%d queries reached the channel for %d answers; want some retries, at most 3 each", n, queries)
	}
}

func TestResilientNoRetryAfterCancel(t *testing.T) {
	t.Parallel()
	faults := alipaysim.Faults{GatewayErrorRate: 1, Methods: []string{alipay.MethodQuery}}
	// The wait after a failure is a full hour: only ctx can end it.
	long := gateway.ResilientConfig{BreakerFailures: 100, RetryBase: time.Hour, RetryMax: time.Hour,
		Jitter: func(d time.Duration) time.Duration { return d }}

	t.Run("cancelled during the backoff", func(t *testing.T) {
		t.Parallel()
		rc, calls, _ := resilient(t, faults, long)
		first := make(chan struct{})
		var once sync.Once
		calls.after = func(string) { once.Do(func() { close(first) }) }
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := rc.Query(ctx, "C1")
			done <- err
		}()
		select {
		case <-first:
		case err := <-done:
			t.Fatalf("the query ended before its first attempt was made: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("no attempt within 10 s")
		}
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) || gateway.OutcomeOf(err) != gateway.OutcomeUnknown {
				t.Fatalf("err = %v; want the last failure and the cancellation", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the query kept waiting after its context was cancelled")
		}
		if n := calls.count(alipay.MethodQuery); n != 1 {
			t.Fatalf("%d attempts; want 1", n)
		}
	})
	t.Run("cancelled during the call", func(t *testing.T) {
		t.Parallel()
		rc, calls, _ := resilient(t, faults, gateway.ResilientConfig{BreakerFailures: 100})
		ctx, cancel := context.WithCancel(context.Background())
		calls.after = func(string) { cancel() }
		if _, err := rc.Query(ctx, "C1"); err == nil {
			t.Fatal("query succeeded")
		}
		if n := calls.count(alipay.MethodQuery); n != 1 {
			t.Fatalf("%d attempts after the context ended; want 1", n)
		}
	})
	t.Run("no time left for another attempt", func(t *testing.T) {
		t.Parallel()
		rc, calls, _ := resilient(t, faults, long)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := rc.Query(ctx, "C1"); gateway.OutcomeOf(err) != gateway.OutcomeUnknown {
			t.Fatalf("err = %v", err)
		}
		if n := calls.count(alipay.MethodQuery); n != 1 {
			t.Fatalf("%d attempts; want 1", n)
		}
	})
}

// TestResilientBreakerCounts checks what opens the circuit: consecutive
// channel failures only. A caller's cancellation and business answers do not
// count, and an answer of any kind resets the run.
func TestResilientBreakerCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	precreate := func(rc gateway.Channel, no string) error {
		_, err := rc.Precreate(ctx, gateway.PrecreateRequest{ChannelNo: no, Amount: 100, Subject: "tea", TimeLeft: time.Hour})
		return err
	}

	t.Run("business failures do not trip it", func(t *testing.T) {
		t.Parallel()
		rc, calls, _ := resilient(t, alipaysim.Faults{}, gateway.ResilientConfig{BreakerFailures: 5})
		for i := range 100 {
			_, err := rc.Pay(ctx, gateway.PayRequest{ChannelNo: fmt.Sprintf("B%d", i), AuthCode: "12345", Amount: 100, Subject: "tea"})
			if !alipay.IsSubCode(err, alipay.SubAuthCodeInvalid) {
				t.Fatalf("pay %d: %v", i, err)
			}
		}
		if rc.State() != "closed" || calls.count(alipay.MethodPay) != 100 {
			t.Fatalf("state %s after %d pays; want closed after 100", rc.State(), calls.count(alipay.MethodPay))
		}
	})
	t.Run("an answer resets the run", func(t *testing.T) {
		t.Parallel()
		rc, _, _ := resilient(t, alipaysim.Faults{GatewayErrorRate: 1, Methods: []string{alipay.MethodPrecreate}},
			gateway.ResilientConfig{BreakerFailures: 5, RetryAttempts: 1})
		for i := range 4 {
			precreate(rc, fmt.Sprint("P", i))
		}
		if _, err := rc.Query(ctx, "P0"); !gateway.HasReason(err, gateway.ReasonTradeNotExist) {
			t.Fatalf("query: %v", err)
		}
		for i := range 4 {
			precreate(rc, fmt.Sprint("P", i))
		}
		if rc.State() != "closed" {
			t.Fatalf("state %s after 4 failures, an answer, 4 failures", rc.State())
		}
		precreate(rc, "P9")
		if rc.State() != "open" {
			t.Fatalf("state %s after 5 failures in a row", rc.State())
		}
	})
	t.Run("a timeout trips it, a cancelled caller does not", func(t *testing.T) {
		t.Parallel()
		rc, _, _ := resilient(t, alipaysim.Faults{TimeoutRate: 1, Methods: []string{alipay.MethodQuery}},
			gateway.ResilientConfig{BreakerFailures: 1, RetryAttempts: 1})
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(100*time.Millisecond, cancel)
		if _, err := rc.Query(cctx, "T1"); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v; want cancelled", err)
		}
		if rc.State() != "closed" {
			t.Fatalf("a cancelled caller moved the breaker to %s", rc.State())
		}
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if _, err := rc.Query(dctx, "T1"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v; want the deadline", err)
		}
		if rc.State() != "open" {
			t.Fatalf("a timeout left the breaker %s", rc.State())
		}
	})
	t.Run("a precreate sent before the circuit opened keeps its outcome", func(t *testing.T) {
		t.Parallel()
		// The first attempt trips the breaker; the retry is refused. Alipay
		// heard the first, so the answer is its unknown, never "not sent".
		rc, calls, _ := resilient(t, alipaysim.Faults{UnknownRate: 1, Methods: []string{alipay.MethodPrecreate}},
			gateway.ResilientConfig{BreakerFailures: 1})
		err := precreate(rc, "S1")
		if errors.Is(err, gateway.ErrNotSent) || paygate.ErrorCode(err) == paygate.EChannelUnavailable || !gateway.IsChannelFailure(err) {
			t.Fatalf("err = %v; want the unknown answer", err)
		}
		if calls.count(alipay.MethodPrecreate) != 1 || rc.State() != "open" {
			t.Fatalf("%d calls, state %s", calls.count(alipay.MethodPrecreate), rc.State())
		}
		err = precreate(rc, "S2")
		if !errors.Is(err, gateway.ErrNotSent) || paygate.ErrorCode(err) != paygate.EChannelUnavailable {
			t.Fatalf("new precreate while open: %v", err)
		}
	})
}

// TestResilientHalfOpen: after the open period one probe goes through; its
// success closes the circuit, its failure opens it again.
func TestResilientHalfOpen(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var changes []string
	faults := alipaysim.Faults{GatewayErrorRate: 1, Methods: []string{alipay.MethodPrecreate}}
	rc, calls, sim := resilient(t, faults, gateway.ResilientConfig{
		Name: "app-under-test", BreakerFailures: 2, BreakerOpen: 200 * time.Millisecond, RetryAttempts: 1,
		OnStateChange: func(name, from, to string) {
			mu.Lock()
			defer mu.Unlock()
			changes = append(changes, name+":"+from+">"+to)
		},
	})
	ctx := context.Background()
	precreate := func(no string) error {
		_, err := rc.Precreate(ctx, gateway.PrecreateRequest{ChannelNo: no, Amount: 100, Subject: "tea", TimeLeft: time.Hour})
		return err
	}
	precreate("H1")
	precreate("H2")
	if rc.State() != "open" {
		t.Fatalf("state %s after 2 failures", rc.State())
	}
	eventually(t, "half-open", func() bool { return rc.State() == "half-open" })
	if err := precreate("H3"); errors.Is(err, gateway.ErrNotSent) || !gateway.IsChannelFailure(err) {
		t.Fatalf("probe: %v; want it sent, and failing", err)
	}
	if rc.State() != "open" {
		t.Fatalf("state %s after a failed probe", rc.State())
	}
	setFaults(t, sim, alipaysim.Faults{})
	eventually(t, "half-open again", func() bool { return rc.State() == "half-open" })
	if err := precreate("H4"); err != nil {
		t.Fatalf("probe after recovery: %v", err)
	}
	if rc.State() != "closed" || calls.count(alipay.MethodPrecreate) != 4 {
		t.Fatalf("state %s, %d precreates sent", rc.State(), calls.count(alipay.MethodPrecreate))
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"app-under-test:closed>open", "app-under-test:open>half-open", "app-under-test:half-open>open",
		"app-under-test:open>half-open", "app-under-test:half-open>closed"}
	if !slices.Equal(changes, want) {
		t.Fatalf("state changes %v, want %v", changes, want)
	}
}

// TestResilientService runs the use cases over an open circuit: new orders
// get 503 CHANNEL_UNAVAILABLE without reaching Alipay and are closed as
// never offered; everything that settles existing business still goes.
func TestResilientService(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setupResilient(t, open, alipaysim.Faults{},
			gateway.ResilientConfig{BreakerFailures: 3, BreakerOpen: time.Hour, RetryAttempts: 1})
		ctx := context.Background()
		paid, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "PAID", TotalAmount: 1000, Mode: paygate.ModeBarcode, AuthCode: "281234567890123456"})
		if err != nil || paid.Status != paygate.StatusPaid {
			t.Fatalf("paid order: %+v, %v", paid, err)
		}

		// Alipay takes precreates but answers 20000: three unclear
		// answers in a row open the circuit; the orders stay pending.
		setFaults(t, e.sim, alipaysim.Faults{UnknownRate: 1, Methods: []string{alipay.MethodPrecreate}})
		for i := range 3 {
			_, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: fmt.Sprint("U", i), TotalAmount: 100, Mode: paygate.ModeQR})
			if paygate.ErrorCode(err) != paygate.EChannel {
				t.Fatalf("create U%d: %v; want %s", i, err, paygate.EChannel)
			}
		}
		if e.rc.State() != "open" {
			t.Fatalf("state %s after 3 channel failures", e.rc.State())
		}
		trades, precreates := len(e.sim.Trades()), e.calls.count(alipay.MethodPrecreate)

		t.Run("new orders get 503 at once", func(t *testing.T) {
			_, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "QR-OPEN", TotalAmount: 100, Mode: paygate.ModeQR})
			if paygate.ErrorCode(err) != paygate.EChannelUnavailable {
				t.Fatalf("QR create: %v; want %s", err, paygate.EChannelUnavailable)
			}
			_, _, err = e.create(t, paygate.CreateOrder{OutTradeNo: "BC-OPEN", TotalAmount: 100, Mode: paygate.ModeBarcode, AuthCode: "281234567890123456"})
			if paygate.ErrorCode(err) != paygate.EChannelUnavailable {
				t.Fatalf("barcode create: %v; want %s", err, paygate.EChannelUnavailable)
			}
			if n := len(e.sim.Trades()); n != trades {
				t.Fatalf("the simulator holds %d trades, %d before: Alipay was called", n, trades)
			}
			if e.calls.count(alipay.MethodPrecreate) != precreates || e.calls.count(alipay.MethodPay) != 1 {
				t.Fatalf("calls reached the channel: %d precreates (was %d), %d pays (was 1)",
					e.calls.count(alipay.MethodPrecreate), precreates, e.calls.count(alipay.MethodPay))
			}
			// Nothing was charged: the barcode order is closed at once.
			bc := e.order(t, "BC-OPEN")
			if bc.Status != paygate.StatusClosed {
				t.Errorf("BC-OPEN is %s; a barcode order never sent is closed", bc.Status)
			}
			if got := e.events(t, bc.ID); !slices.Equal(got, []string{paygate.EventOrderClosed}) {
				t.Errorf("BC-OPEN events = %v", got)
			}
			// The QR order waits, without a code, for the merchant's repeat.
			if qr := e.order(t, "QR-OPEN"); qr.Status != paygate.StatusPending || qr.QRCode != "" {
				t.Errorf("QR-OPEN = %+v; want pending without a code", qr)
			}
			_, created, err := e.create(t, paygate.CreateOrder{OutTradeNo: "QR-OPEN", TotalAmount: 100, Mode: paygate.ModeQR})
			if paygate.ErrorCode(err) != paygate.EChannelUnavailable || created {
				t.Fatalf("repeat while open: %v, created %v", err, created)
			}
			if e.calls.count(alipay.MethodPrecreate) != precreates {
				t.Fatal("the repeat reached the channel")
			}
		})
		t.Run("a repeat of an order already sent stays pending", func(t *testing.T) {
			// U0's precreate reached Alipay with no clear answer: a code
			// may exist, so the refused repeat must not close it.
			_, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "U0", TotalAmount: 100, Mode: paygate.ModeQR})
			if paygate.ErrorCode(err) != paygate.EChannelUnavailable {
				t.Fatalf("repeat create: %v", err)
			}
			if o := e.order(t, "U0"); o.Status != paygate.StatusPending {
				t.Fatalf("U0 is %s; want pending", o.Status)
			}
		})
		t.Run("settling calls still go through", func(t *testing.T) {
			queries := e.calls.count(alipay.MethodQuery)
			if _, err := e.svc.GetOrder(ctx, e.merchant, "U1", true); err != nil {
				t.Fatal(err)
			}
			if e.calls.count(alipay.MethodQuery) != queries+1 {
				t.Fatal("the refresh query did not reach the channel")
			}
			r, _, err := e.svc.Refund(ctx, e.merchant, "PAID", paygate.CreateRefund{OutRequestNo: "RF1", Amount: 400, Reason: "broken"})
			if err != nil || r.Status != paygate.RefundSucceeded {
				t.Fatalf("refund while open: %+v, %v", r, err)
			}
			closed, err := e.svc.CloseOrder(ctx, e.merchant, "U2")
			if err != nil || closed.Status != paygate.StatusClosed {
				t.Fatalf("close while open: %+v, %v", closed, err)
			}
			if e.calls.count(alipay.MethodClose) == 0 || e.calls.count(alipay.MethodRefund) == 0 {
				t.Fatal("close or refund did not reach the channel")
			}
			if e.rc.State() != "open" {
				t.Fatalf("state %s; answers while open do not close the circuit, only a probe does", e.rc.State())
			}
		})
	})
}

// TestResilientPaySentOnce: an unclear pay is never repeated, only queried
// and cancelled by the use case.
func TestResilientPaySentOnce(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setupResilient(t, open, alipaysim.Faults{GatewayErrorRate: 1, Methods: []string{alipay.MethodPay}},
			gateway.ResilientConfig{})
		_, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: "B1", TotalAmount: 100, Mode: paygate.ModeBarcode, AuthCode: "281234567890123456"})
		if err != nil {
			t.Fatal(err)
		}
		if n := e.calls.count(alipay.MethodPay); n != 1 {
			t.Fatalf("pay sent %d times; want 1", n)
		}
		if o := e.order(t, "B1"); o.Status != paygate.StatusClosed || e.calls.count(alipay.MethodCancel) == 0 {
			t.Fatalf("order %s after an unclear pay, %d cancels", o.Status, e.calls.count(alipay.MethodCancel))
		}
	})
}

// TestResilientServiceRecovers: a QR order refused by the open circuit is
// precreated by the merchant's repeat once the channel is back.
func TestResilientServiceRecovers(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setupResilient(t, open, alipaysim.Faults{GatewayErrorRate: 1, Methods: []string{alipay.MethodPrecreate}},
			gateway.ResilientConfig{BreakerFailures: 2, BreakerOpen: 200 * time.Millisecond, RetryAttempts: 1})
		for _, no := range []string{"F1", "F2"} {
			if _, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: no, TotalAmount: 100, Mode: paygate.ModeQR}); paygate.ErrorCode(err) != paygate.EChannel {
				t.Fatalf("create %s: %v", no, err)
			}
		}
		req := paygate.CreateOrder{OutTradeNo: "LATER", TotalAmount: 100, Mode: paygate.ModeQR}
		if _, created, err := e.create(t, req); paygate.ErrorCode(err) != paygate.EChannelUnavailable || !created {
			t.Fatalf("create while open: %v, created %v", err, created)
		}
		setFaults(t, e.sim, alipaysim.Faults{})
		eventually(t, "half-open", func() bool { return e.rc.State() == "half-open" })
		o, created, err := e.create(t, req)
		if err != nil || created || o.QRCode == "" || o.Status != paygate.StatusPending {
			t.Fatalf("repeat after recovery: %+v, created %v, %v", o, created, err)
		}
		if e.rc.State() != "closed" {
			t.Fatalf("state %s after a successful probe", e.rc.State())
		}
		if err := e.sim.PayQR(context.Background(), o.QRCode, ""); err != nil {
			t.Fatal(err)
		}
		eventually(t, "paid", func() bool { return e.order(t, "LATER").Status == paygate.StatusPaid })
	})
}

// TestResilientBackoff: the bound doubles from RetryBase up to RetryMax, and
// the wait drawn below it is what is slept.
func TestResilientBackoff(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bounds, slept []time.Duration
	rc, calls, _ := resilient(t, alipaysim.Faults{GatewayErrorRate: 1, Methods: []string{alipay.MethodQuery}}, gateway.ResilientConfig{
		BreakerFailures: 100, RetryAttempts: 5, RetryBase: 100 * time.Millisecond, RetryMax: 300 * time.Millisecond,
		Jitter: func(d time.Duration) time.Duration {
			mu.Lock()
			defer mu.Unlock()
			bounds = append(bounds, d)
			return d / 10
		},
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			slept = append(slept, d)
			return ctx.Err()
		},
	})
	if _, err := rc.Query(context.Background(), "W1"); !gateway.IsChannelFailure(err) {
		t.Fatalf("err = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	ms := time.Millisecond
	if want := []time.Duration{100 * ms, 200 * ms, 300 * ms, 300 * ms}; !slices.Equal(bounds, want) {
		t.Errorf("bounds %v, want %v", bounds, want)
	}
	if want := []time.Duration{10 * ms, 20 * ms, 30 * ms, 30 * ms}; !slices.Equal(slept, want) {
		t.Errorf("slept %v, want %v", slept, want)
	}
	if n := calls.count(alipay.MethodQuery); n != 5 {
		t.Errorf("%d attempts, want 5", n)
	}
}
