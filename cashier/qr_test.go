package cashier

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	qrcode "github.com/skip2/go-qrcode"
)

var (
	pathData = regexp.MustCompile(`<path fill="#000" d="([^"]*)"/>`)
	run      = regexp.MustCompile(`^M(\d+) (\d+)h(\d+)v1h-(\d+)z`)
)

// TestQRSVGDrawsTheBitmap: painting the SVG's rectangles gives back the
// library's module bitmap exactly, quiet zone included, for codes of
// several sizes; the label is escaped.
func TestQRSVGDrawsTheBitmap(t *testing.T) {
	t.Parallel()
	for _, content := range []string{
		"https://qr.alipay.com/bax0abcdefghij0123456789",
		"x",
		"https://qr.alipay.com/" + strings.Repeat("z", 300),
	} {
		svg, err := qrSVG(content, `pay "9.90" <now> & 'then'`)
		if err != nil {
			t.Fatal(err)
		}
		q, err := qrcode.New(content, qrcode.Medium)
		if err != nil {
			t.Fatal(err)
		}
		want := q.Bitmap()
		n := len(want)
		if !strings.Contains(svg, `viewBox="0 0 `+strconv.Itoa(n)+" "+strconv.Itoa(n)+`"`) {
			t.Fatalf("viewBox is not the bitmap's %d modules: %.200s", n, svg)
		}
		if !strings.Contains(svg, `aria-label="pay &quot;9.90&quot; &lt;now&gt; &amp; &#39;then&#39;"`) {
			t.Fatalf("label not escaped: %.300s", svg)
		}
		m := pathData.FindStringSubmatch(svg)
		if m == nil {
			t.Fatalf("no path: %.300s", svg)
		}
		got := make([][]bool, n)
		for i := range got {
			got[i] = make([]bool, n)
		}
		d := m[1]
		for d != "" {
			r := run.FindStringSubmatch(d)
			if r == nil {
				t.Fatalf("unexpected path data at %.40q", d)
			}
			x, _ := strconv.Atoi(r[1])
			y, _ := strconv.Atoi(r[2])
			w, _ := strconv.Atoi(r[3])
			back, _ := strconv.Atoi(r[4])
			if w != back || w < 1 {
				t.Fatalf("run %q does not close", r[0])
			}
			for i := x; i < x+w; i++ {
				if got[y][i] {
					t.Fatalf("module %d,%d drawn twice", i, y)
				}
				got[y][i] = true
			}
			d = d[len(r[0]):]
		}
		for y := range want {
			for x := range want[y] {
				if got[y][x] != want[y][x] {
					t.Fatalf("%q: module %d,%d is %v, want %v", content, x, y, got[y][x], want[y][x])
				}
			}
		}
		if len(svg) > 40<<10 {
			t.Errorf("SVG of %d modules is %d bytes", n, len(svg))
		}
	}
}

func TestRemaining(t *testing.T) {
	t.Parallel()
	for d, want := range map[string]string{"0s": "0:00", "-5s": "0:00", "59s": "0:59", "14m59s": "14:59", "1h0m1s": "1:00:01", "26h3m": "26:03:00"} {
		dur, _ := parseDur(d)
		if got := remaining(dur); got != want {
			t.Errorf("remaining(%s) = %s, want %s", d, got, want)
		}
	}
}

func parseDur(s string) (time.Duration, error) { return time.ParseDuration(s) }
