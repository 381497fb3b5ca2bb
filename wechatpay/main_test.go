package wechatpay_test

import (
	"testing"

	"github.com/paygate/paygate/testenv"
)

// TestMain says what was skipped for want of a tool (see testenv).
func TestMain(m *testing.M) { testenv.Main(m) }
