package wechatpaysim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/paygate/paygate/simfault"
)

// Faults is the simulator's fault injection, with alipaysim's keys mapped
// to WeChat Pay's forms. Every field is optional; the zero value injects
// nothing. Rates are probabilities in [0, 1], rolled for each call or
// notification.
type Faults struct {
	// LatencyMS delays every API call by this many milliseconds.
	LatencyMS int `json:"latency_ms,omitempty"`
	// GatewayErrorRate answers a signed 500 SYSTEM_ERROR; nothing is done.
	GatewayErrorRate float64 `json:"gateway_error_rate,omitempty"`
	// UnknownRate lets the call take effect, then answers a signed 500
	// SYSTEM_ERROR in place of the real result (§9: unknown, query).
	UnknownRate float64 `json:"unknown_rate,omitempty"`
	// TimeoutRate lets the call take effect, then holds the answer until the
	// client gives up or 60 s pass.
	TimeoutRate float64 `json:"timeout_rate,omitempty"`
	// NotifyDropRate drops a notification entirely: never sent, never retried.
	NotifyDropRate float64 `json:"notify_drop_rate,omitempty"`
	// NotifyDuplicateRate sends a delivery twice.
	NotifyDuplicateRate float64 `json:"notify_duplicate_rate,omitempty"`
	// NotifyDelayMS waits a random time in [0, n] ms before each delivery,
	// which also reorders notifications.
	NotifyDelayMS int `json:"notify_delay_ms,omitempty"`
	// NotifySchedule replaces WeChat Pay's retry gaps (15s,15s,30s,3m,…,6h)
	// with a comma-separated list of Go durations such as "1s,2s,4s".
	NotifySchedule string `json:"notify_schedule,omitempty"`
	// BillSameDay serves today's trade bill (Beijing time), so far, which
	// WeChat Pay never does: a test can reconcile the day it made. A test
	// knob, not a fault.
	BillSameDay bool `json:"bill_same_day,omitempty"`
}

// ParseFaults reads a Faults JSON object strictly: unknown keys, trailing
// data and invalid values are errors that say what is wrong.
func ParseFaults(data []byte) (Faults, error) {
	var f Faults
	if len(bytes.TrimSpace(data)) == 0 {
		return f, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Faults{}, fmt.Errorf("faults: %w", err)
	}
	if dec.More() {
		return Faults{}, errors.New("faults: data after the JSON object")
	}
	return f, f.Validate()
}

// Validate checks that rates are in [0, 1], delays in range and the
// schedule parses.
func (f Faults) Validate() error {
	err := simfault.Check([]simfault.Rate{
		{Name: "gateway_error_rate", Value: f.GatewayErrorRate}, {Name: "unknown_rate", Value: f.UnknownRate},
		{Name: "timeout_rate", Value: f.TimeoutRate}, {Name: "notify_drop_rate", Value: f.NotifyDropRate},
		{Name: "notify_duplicate_rate", Value: f.NotifyDuplicateRate},
	}, []simfault.Delay{{Name: "latency_ms", MS: f.LatencyMS}, {Name: "notify_delay_ms", MS: f.NotifyDelayMS}})
	if err != nil {
		return err
	}
	_, err = simfault.ParseSchedule(f.NotifySchedule, nil)
	return err
}
