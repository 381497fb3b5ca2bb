// Package chaos holds the chaos suite, the proof that paygate never loses or
// double-counts a payment. It is a test (TestChaos in chaos_test.go) that
// builds the real paygate binary and drives it as separate processes, from
// the outside only: the merchant API, the simulators' /sim routes (Alipay's
// and WeChat Pay's, served together by `paygate sim`) and a webhook receiver
// of its own. Orders go to both channels at once: Alipay, WeChat Pay and
// "auto" (both codes, either wallet). Both simulators' faults are on;
// gateway nodes are killed with SIGKILL and restarted, and on PostgreSQL two
// replicas share a database instance of the suite's own, which is itself
// restarted. After the run the suite waits for quiet and checks every order
// against its channel's truth (GET /sim/trades, GET /sim/wechat/trades; an
// auto order against both) and every event against what the receiver got.
// See README.md, "The chaos suite", for how to run it.
//
// The package has no code besides its tests.
package chaos
