package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

// TestMerchantRotateConfirmSentTwiceAtOnce: the rotation's confirmation
// sent several times at once (a double click without JavaScript) rotates
// once; the others are refused as a changed merchant. Had two rotated, the
// second would have ended the grace of the shop's key at once.
func TestMerchantRotateConfirmSentTwiceAtOnce(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		p := setupPages(t, st)
		p.operator(t, "alice", paygate.RoleAdmin, pw)
		m := p.merchantWith(t, "Clicking Shop", "")
		b := p.browser(t)
		b.login("alice", pw)
		path := "/dashboard/merchants/" + fmt.Sprint(m.ID) + "/rotate"
		csrf := b.get("/dashboard/merchants/" + fmt.Sprint(m.ID)).csrf(t)
		confirm := b.post(path, url.Values{"csrf": {csrf}, "secret_key": {"on"}, "grace": {"24h0m0s"}})
		form := url.Values{"csrf": {csrf}, "secret_key": {"on"}, "grace": {"24h0m0s"}, "confirm": {"yes"},
			"version": {confirm.field(t, "version")}}.Encode()

		const n = 6
		statuses := make([]int, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Origin", b.base)
				<-start
				resp, err := b.c.Do(req)
				if err != nil {
					errs[i] = err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			}()
		}
		close(start)
		wg.Wait()
		rotated := 0
		for i, s := range statuses {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			switch s {
			case http.StatusOK:
				rotated++
			case http.StatusConflict:
			default:
				t.Errorf("a confirmation answered %d", s)
			}
		}
		got, err := st.MerchantByID(context.Background(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rotated != 1 || got.PreviousSecretKey != m.SecretKey || len(got.SecretKeys(time.Now())) != 2 {
			t.Fatalf("%d of %d confirmations rotated (statuses %v); the shop's key in its grace: %v; want one rotation, the shop's key kept",
				rotated, n, statuses, got.PreviousSecretKey == m.SecretKey)
		}
	})
}
