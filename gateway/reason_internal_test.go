package gateway

import (
	"testing"

	"github.com/sony/gobreaker/v2"
)

func TestBreakerReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from, to gobreaker.State
		want     string
	}{
		{gobreaker.StateClosed, gobreaker.StateOpen, ReasonBreakerTripped},
		{gobreaker.StateOpen, gobreaker.StateHalfOpen, ReasonBreakerProbing},
		{gobreaker.StateHalfOpen, gobreaker.StateOpen, ReasonBreakerProbeFail},
		{gobreaker.StateHalfOpen, gobreaker.StateClosed, ReasonBreakerRecovered},
	}
	for _, tt := range tests {
		if got := breakerReason(tt.from, tt.to); got != tt.want {
			t.Errorf("%s → %s: %s, want %s", tt.from, tt.to, got, tt.want)
		}
	}
}
