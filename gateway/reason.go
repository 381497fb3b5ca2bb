package gateway

import "github.com/sony/gobreaker/v2"

// Reason codes of the breaker's log lines (reason=…).
const (
	ReasonBreakerTripped   = "breaker_tripped"    // closed → open: consecutive channel failures
	ReasonBreakerProbing   = "breaker_probing"    // open → half-open: the open time is over, a few calls try
	ReasonBreakerProbeFail = "breaker_probe_fail" // half-open → open: a trial call failed
	ReasonBreakerRecovered = "breaker_recovered"  // half-open → closed: the trial calls succeeded
)

// breakerReason is the reason code of a state change of the channel's
// circuit breaker.
func breakerReason(from, to gobreaker.State) string {
	switch {
	case to == gobreaker.StateOpen && from == gobreaker.StateHalfOpen:
		return ReasonBreakerProbeFail
	case to == gobreaker.StateOpen:
		return ReasonBreakerTripped
	case to == gobreaker.StateHalfOpen:
		return ReasonBreakerProbing
	default:
		return ReasonBreakerRecovered
	}
}
