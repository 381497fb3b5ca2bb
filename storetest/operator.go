package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

func newOperator(t *testing.T, s paygate.Store, username string, role paygate.Role) *paygate.Operator {
	t.Helper()
	o := &paygate.Operator{Username: username, PasswordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", Role: role, CreatedAt: t0}
	if err := s.CreateOperator(context.Background(), o); err != nil {
		t.Fatalf("CreateOperator: %v", err)
	}
	return o
}

// testOperators: create, read back, conflict on the username, list, update.
func testOperators(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	if _, err := s.OperatorByUsername(ctx, "nobody"); paygate.ErrorCode(err) != paygate.ENotFound {
		t.Fatalf("unknown operator: %v, want not found", err)
	}
	admin := newOperator(t, s, "alice", paygate.RoleAdmin)
	if admin.ID == 0 {
		t.Fatal("CreateOperator left the ID zero")
	}
	got, err := s.OperatorByUsername(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := &paygate.Operator{ID: admin.ID, Username: "alice", PasswordHash: admin.PasswordHash, Role: paygate.RoleAdmin,
		SessionsValidAfter: us(t0), CreatedAt: us(t0), UpdatedAt: us(t0)}
	mustEqual(t, "operator", got, want)
	mustEqual(t, "operator as created", admin, want)

	dup := &paygate.Operator{Username: "alice", PasswordHash: "x", Role: paygate.RoleViewer}
	wantCode(t, s.CreateOperator(ctx, dup), paygate.EConflict)
	bad := &paygate.Operator{Username: "bob", PasswordHash: "x", Role: "root"}
	wantCode(t, s.CreateOperator(ctx, bad), paygate.EInvalid)
	newOperator(t, s, "bob", paygate.RoleViewer)

	list, err := s.ListOperators(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Username != "alice" || list[1].Username != "bob" || list[1].Role != paygate.RoleViewer {
		t.Fatalf("ListOperators = %v", list)
	}

	got.PasswordHash = "new-hash"
	got.Role = paygate.RoleViewer
	got.DisabledAt = t0.Add(time.Hour)
	got.SessionsValidAfter = t0.Add(time.Hour)
	got.LockedUntil = t0.Add(2 * time.Hour)
	got.FailedLogins = 3
	got.UpdatedAt = t0.Add(time.Hour)
	if err := s.UpdateOperator(ctx, got); err != nil {
		t.Fatal(err)
	}
	again, err := s.OperatorByUsername(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want = &paygate.Operator{ID: admin.ID, Username: "alice", PasswordHash: "new-hash", Role: paygate.RoleViewer,
		DisabledAt: us(t0.Add(time.Hour)), FailedLogins: 3, LockedUntil: us(t0.Add(2 * time.Hour)),
		SessionsValidAfter: us(t0.Add(time.Hour)), CreatedAt: us(t0), UpdatedAt: us(t0.Add(time.Hour))}
	mustEqual(t, "updated operator", again, want)
	if !again.Disabled() || !again.Locked(t0.Add(90*time.Minute)) || again.Locked(t0.Add(3*time.Hour)) {
		t.Fatalf("Disabled/Locked wrong for %+v", again)
	}
	wantCode(t, s.UpdateOperator(ctx, &paygate.Operator{ID: 1 << 40, Username: "ghost", Role: paygate.RoleAdmin}), paygate.ENotFound)
}

// testLoginFailures: failures count up to the limit, which locks and starts
// the count again; concurrent failures all count; a reset clears the count.
func testLoginFailures(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	o := newOperator(t, s, "carol", paygate.RoleAdmin)
	at := t0.Add(time.Minute)
	for i := 1; i <= 4; i++ {
		got, err := s.RecordLoginFailure(ctx, o.ID, at, 5, 15*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if got.FailedLogins != i || !got.LockedUntil.IsZero() {
			t.Fatalf("failure %d: count %d, locked until %v", i, got.FailedLogins, got.LockedUntil)
		}
	}
	got, err := s.RecordLoginFailure(ctx, o.ID, at, 5, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got.FailedLogins != 0 || !got.LockedUntil.Equal(us(at.Add(15*time.Minute))) {
		t.Fatalf("fifth failure: count %d, locked until %v; want 0, %v", got.FailedLogins, got.LockedUntil, us(at.Add(15*time.Minute)))
	}

	// Concurrent failures (several replicas) each count.
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if _, err := s.RecordLoginFailure(ctx, o.ID, at, 5, 15*time.Minute); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	cur, err := s.OperatorByUsername(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	if cur.FailedLogins != 3 {
		t.Fatalf("after 3 concurrent failures the count is %d", cur.FailedLogins)
	}
	if err := s.ResetLoginFailures(ctx, o.ID); err != nil {
		t.Fatal(err)
	}
	if cur, _ = s.OperatorByUsername(ctx, "carol"); cur.FailedLogins != 0 {
		t.Fatalf("after reset the count is %d", cur.FailedLogins)
	}
	if _, err := s.RecordLoginFailure(ctx, 1<<40, at, 5, time.Minute); paygate.ErrorCode(err) != paygate.ENotFound {
		t.Fatalf("failure of an unknown operator: %v", err)
	}
}

// testOperatorActions: records are appended and listed newest first, by
// order, by merchant, or all; the cursor pages.
func testOperatorActions(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	o1 := newOrder(t, s, m, nil)
	o2 := newOrder(t, s, m, nil)
	rec := func(orderID, merchantID int64, action, outcome string, at time.Time) *paygate.OperatorAction {
		a := &paygate.OperatorAction{At: at, Operator: "alice", Action: action, OrderID: orderID, MerchantID: merchantID,
			Target: "op_1", Detail: "1.00 CNY · 退款", Outcome: outcome}
		if err := s.RecordOperatorAction(ctx, a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	a1 := rec(o1.ID, m.ID, paygate.ActionRefund, paygate.OutcomeRequested, t0)
	a2 := rec(o1.ID, m.ID, paygate.ActionRefund, paygate.OutcomeSucceeded, t0.Add(time.Second))
	a3 := rec(o2.ID, m.ID, paygate.ActionClose, paygate.OutcomeFailed, t0.Add(2*time.Second))
	a4 := rec(0, m.ID, "merchant.rotate", paygate.OutcomeSucceeded, t0.Add(3*time.Second))
	a5 := rec(0, 0, "operator.note", paygate.OutcomeSucceeded, time.Time{})
	if a1.ID == 0 || a5.At.IsZero() {
		t.Fatalf("RecordOperatorAction left ID %d, At %v", a1.ID, a5.At)
	}
	ids := func(f paygate.OperatorActionFilter) []int64 {
		t.Helper()
		list, err := s.OperatorActions(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := []int64{}
		for _, a := range list {
			out = append(out, a.ID)
		}
		return out
	}
	mustEqual(t, "by order", ids(paygate.OperatorActionFilter{OrderID: o1.ID}), []int64{a2.ID, a1.ID})
	mustEqual(t, "by merchant", ids(paygate.OperatorActionFilter{MerchantID: m.ID}), []int64{a4.ID, a3.ID, a2.ID, a1.ID})
	mustEqual(t, "latest", ids(paygate.OperatorActionFilter{Limit: 2}), []int64{a5.ID, a4.ID})
	mustEqual(t, "next page", ids(paygate.OperatorActionFilter{Limit: 2, BeforeID: a4.ID}), []int64{a3.ID, a2.ID})

	list, err := s.OperatorActions(ctx, paygate.OperatorActionFilter{OrderID: o1.ID, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := &paygate.OperatorAction{ID: a2.ID, At: us(t0.Add(time.Second)), Operator: "alice", Action: paygate.ActionRefund,
		OrderID: o1.ID, MerchantID: m.ID, Target: "op_1", Detail: "1.00 CNY · 退款", Outcome: paygate.OutcomeSucceeded}
	mustEqual(t, "action", list[0], want)
	bad := &paygate.OperatorAction{Operator: "alice", Action: "x", OrderID: 1 << 40, Outcome: "x"}
	wantCode(t, s.RecordOperatorAction(ctx, bad), paygate.EInvalid)
}

// testRevokedSessions: a revoked jti is known until purged after its
// expiry; revoking twice keeps the later expiry.
func testRevokedSessions(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	jti := randomID("jti_")
	if r, err := s.SessionRevoked(ctx, jti); err != nil || r {
		t.Fatalf("fresh jti: revoked %v, %v", r, err)
	}
	if err := s.RevokeSession(ctx, jti, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, jti, t0.Add(10*time.Minute)); err != nil {
		t.Fatalf("revoking again: %v", err)
	}
	other := randomID("jti_")
	if err := s.RevokeSession(ctx, other, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r, err := s.SessionRevoked(ctx, jti); err != nil || !r {
		t.Fatalf("revoked jti: revoked %v, %v", r, err)
	}
	n, err := s.PurgeRevokedSessions(ctx, t0.Add(5*time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("purge: %d, %v; want 1 (the other)", n, err)
	}
	if r, _ := s.SessionRevoked(ctx, other); r {
		t.Fatal("a purged revocation is still known")
	}
	if r, _ := s.SessionRevoked(ctx, jti); !r {
		t.Fatal("the revocation that runs until later was purged")
	}
}

// testSearchOrders: every criterion, across merchants, newest first, paged.
func testSearchOrders(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m1, m2 := newMerchant(t, s), newMerchant(t, s)
	a := newOrder(t, s, m1, func(o *paygate.Order) { o.OutTradeNo = "same" })
	b := newOrder(t, s, m2, func(o *paygate.Order) { o.OutTradeNo = "same"; o.CreatedAt = t0.Add(time.Hour) })
	c := pay(t, s, newOrder(t, s, m1, func(o *paygate.Order) { o.CreatedAt = t0.Add(2 * time.Hour) }))
	d := newOrder(t, s, m2, func(o *paygate.Order) { o.CreatedAt = t0.Add(24 * time.Hour) })
	ids := func(q paygate.OrderSearch) []int64 {
		t.Helper()
		list, err := s.SearchOrders(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		out := []int64{}
		for _, o := range list {
			out = append(out, o.ID)
		}
		return out
	}
	mustEqual(t, "all", ids(paygate.OrderSearch{}), []int64{d.ID, c.ID, b.ID, a.ID})
	mustEqual(t, "merchant", ids(paygate.OrderSearch{MerchantID: m1.ID}), []int64{c.ID, a.ID})
	mustEqual(t, "out_trade_no across merchants", ids(paygate.OrderSearch{OutTradeNo: "same"}), []int64{b.ID, a.ID})
	mustEqual(t, "out_trade_no and merchant", ids(paygate.OrderSearch{OutTradeNo: "same", MerchantID: m2.ID}), []int64{b.ID})
	mustEqual(t, "trade_no", ids(paygate.OrderSearch{TradeNo: c.TradeNo}), []int64{c.ID})
	mustEqual(t, "status", ids(paygate.OrderSearch{Status: paygate.StatusPaid}), []int64{c.ID})
	mustEqual(t, "pending", ids(paygate.OrderSearch{Status: paygate.StatusPending}), []int64{d.ID, b.ID, a.ID})
	mustEqual(t, "from", ids(paygate.OrderSearch{From: t0.Add(time.Hour)}), []int64{d.ID, c.ID, b.ID})
	mustEqual(t, "to (exclusive)", ids(paygate.OrderSearch{To: t0.Add(2 * time.Hour)}), []int64{b.ID, a.ID})
	mustEqual(t, "range", ids(paygate.OrderSearch{From: t0.Add(time.Minute), To: t0.Add(3 * time.Hour)}), []int64{c.ID, b.ID})
	mustEqual(t, "page 1", ids(paygate.OrderSearch{Limit: 2}), []int64{d.ID, c.ID})
	mustEqual(t, "page 2", ids(paygate.OrderSearch{Limit: 2, BeforeID: c.ID}), []int64{b.ID, a.ID})
	mustEqual(t, "nothing", ids(paygate.OrderSearch{TradeNo: "none"}), []int64{})

	got, err := s.OrderByID(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "OrderByID", got, c)
	if _, err := s.OrderByID(ctx, 1<<40); paygate.ErrorCode(err) != paygate.ENotFound {
		t.Fatalf("OrderByID of nothing: %v", err)
	}
}
