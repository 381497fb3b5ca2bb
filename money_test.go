package paygate

import (
	"errors"
	"testing"
)

func TestParseYuan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Money
		err  bool
	}{
		{"0.01", 1, false},
		{"99.99", 9999, false},
		{"1.5", 150, false},
		{"100", 10000, false},
		{"0", 0, false},
		{"100000000.00", MaxAmount, false},
		{"-3.00", -300, false},
		{"2650.00", 265000, false},
		{"", 0, true},
		{"-", 0, true},
		{".5", 0, true},
		{"1.", 0, true},
		{"1.001", 0, true},
		{"01.00", 0, true},
		{"+1.00", 0, true},
		{"1e3", 0, true},
		{" 1.00", 0, true},
		{"1,00", 0, true},
		{"1.0a", 0, true},
		{"9999999999999.00", 0, true},
		{"１.00", 0, true}, // full-width digit
	}
	for _, tt := range tests {
		got, err := ParseYuan(tt.in)
		if tt.err {
			if !errors.Is(err, ErrAmountSyntax) {
				t.Errorf("ParseYuan(%q) = %v, %v; want syntax error", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseYuan(%q) = %v, %v; want %d", tt.in, int64(got), err, tt.want)
		}
	}
}

func TestMoneyYuan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   Money
		want string
	}{
		{0, "0.00"}, {1, "0.01"}, {10, "0.10"}, {9999, "99.99"}, {265000, "2650.00"},
		{MaxAmount, "100000000.00"}, {-300, "-3.00"}, {-1, "-0.01"},
	}
	for _, tt := range tests {
		if got := tt.in.Yuan(); got != tt.want {
			t.Errorf("Money(%d).Yuan() = %q; want %q", int64(tt.in), got, tt.want)
		}
	}
}

func FuzzYuanRoundTrip(f *testing.F) {
	for _, s := range []string{"0.01", "1.5", "100", "-3.00", "99.99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseYuan(s)
		if err != nil {
			return
		}
		back, err := ParseYuan(m.Yuan())
		if err != nil || back != m {
			t.Fatalf("%q -> %d -> %q -> %d, %v", s, int64(m), m.Yuan(), int64(back), err)
		}
	})
}
