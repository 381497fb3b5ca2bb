package alipaysim

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/simjournal"
)

// TestJournalAtScale: 10,000 trades with updates load back in one pass and
// compact to one line each; appends never rewrite the file.
func TestJournalAtScale(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, snap, err := simjournal.Open(dir, journalName)
	if err != nil || len(snap) != 0 {
		t.Fatalf("open: %v %v", err, snap)
	}
	const n = 10_000
	at := time.Date(2024, 5, 13, 10, 0, 0, 0, alipay.ChinaTime)
	recs := make([]simjournal.Record, 0, 100)
	for i := range n {
		tr := &trade{AppID: "app", SellerID: "2088000000000001", OutTradeNo: fmt.Sprintf("O%05d", i), Kind: kindPay,
			TradeNo: fmt.Sprintf("2024051322001%015d", i), Status: alipay.TradeWaitBuyerPay, Total: 100, Subject: "s",
			Created: at, Expires: at.Add(time.Hour)}
		recs = append(recs, simjournal.Put(kindTrade, tr.key(), tr))
		if i%2 == 0 { // an update: the last record wins
			tr.Status, tr.Paid = alipay.TradeSuccess, at
			recs = append(recs, simjournal.Put(kindTrade, tr.key(), tr))
		}
		if len(recs) >= 100 {
			if err := st.Append(recs...); err != nil {
				t.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	if err := st.Append(recs...); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if got := lines(t, filepath.Join(dir, journalName+".journal")); got != n+n/2 {
		t.Fatalf("journal has %d lines, want %d", got, n+n/2)
	}

	s, err := New(Config{AlipayKey: testAlipayKey(t), DataDir: dir, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := lines(t, filepath.Join(dir, journalName+".journal")); got != n {
		t.Fatalf("compacted journal has %d lines, want %d", got, n)
	}
	views := s.Trades()
	paid := 0
	for _, v := range views {
		if v.TradeStatus == alipay.TradeSuccess {
			paid++
		}
	}
	if len(views) != n || paid != n/2 {
		t.Fatalf("%d trades, %d paid", len(views), paid)
	}
	if tr := s.book.byTradeNo["2024051322001000000000000042"]; tr == nil || tr.OutTradeNo != "O00042" {
		t.Fatal("trade_no index not rebuilt")
	}
}

func lines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
	}
	return n
}
