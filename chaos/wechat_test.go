package chaos

// WeChat Pay in the suite: the merchant's keys and the simulator's, made
// for each run as `paygate demo` makes them (never written anywhere but
// the run's temporary directory), the simulator's --wechat-* flags and the
// gateway's wechat: section that go with them, and the simulator's orders
// in the suite's trade form, so that one table checks both channels.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/paygate/paygate/gateway"
	"github.com/paygate/paygate/wechatpay"
	"github.com/paygate/paygate/wechatpaysim"
)

// wechatKeys are one run's WeChat Pay key files: the merchant API key pair
// (the gateway signs with it, the simulator verifies with its public
// half), the simulator's WeChat Pay key pair (the reverse), and the
// merchant's APIv3 key (notifications are encrypted with it).
type wechatKeys struct {
	merchantDir string // keys gen: app_private_key.pem, app_public_key.pem
	simDir      string // likewise, the simulator's
	apiv3File   string
	serial      string // the merchant API certificate serial the requests name
}

// newWechatKeys makes the keys under dir with `paygate keys gen` (RSA-2048
// PKCS#8 pairs, which WeChat Pay's keys are too), an APIv3 key of 32
// alphanumerics (mode 0600) and a random certificate serial.
func newWechatKeys(ctx context.Context, bin, dir string) (wechatKeys, error) {
	k := wechatKeys{merchantDir: filepath.Join(dir, "wxmerchantkeys"), simDir: filepath.Join(dir, "wxsimkeys"),
		apiv3File: filepath.Join(dir, "wechat_apiv3_key.txt")}
	for _, d := range []string{k.merchantDir, k.simDir} {
		if _, err := runTool(ctx, bin, "keys", "gen", "--out", d); err != nil {
			return k, err
		}
	}
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	key := make([]byte, wechatpay.APIv3KeySize)
	for i := range key {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alnum))))
		if err != nil {
			return k, err
		}
		key[i] = alnum[n.Int64()]
	}
	if err := os.WriteFile(k.apiv3File, key, 0o600); err != nil {
		return k, fmt.Errorf("write the APIv3 key: %w", err)
	}
	serial := make([]byte, 20)
	if _, err := rand.Read(serial); err != nil {
		return k, err
	}
	k.serial = strings.ToUpper(hex.EncodeToString(serial))
	return k, nil
}

// simArgs are `paygate sim`'s flags that register the merchant and give the
// simulator its key, its key ID and the faults (JSON) from the start.
func (k wechatKeys) simArgs(faults string) []string {
	return []string{
		"--wechat-private-key", filepath.Join(k.simDir, "app_private_key.pem"), "--wechat-key-id", wxKeyID,
		"--wechat-mchid", wxMchID, "--wechat-appid", wxAppID,
		"--wechat-merchant-key", filepath.Join(k.merchantDir, "app_public_key.pem"), "--wechat-serial", k.serial,
		"--wechat-apiv3-key", k.apiv3File, "--wechat-faults", faults,
	}
}

// section is the gateway's wechat: section: the simulator (through the
// suite's counting proxy) as base_url, public-key mode, notifications to
// the load balancer, and the call timeout Alipay's calls have.
func (k wechatKeys) section(baseURL, notifyURL string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("wechat:")
	w("  mch_id: %q", wxMchID)
	w("  app_id: %q", wxAppID)
	w("  serial_no: %q", k.serial)
	w("  private_key_file: %q", filepath.Join(k.merchantDir, "app_private_key.pem"))
	w("  apiv3_key_file: %q", k.apiv3File)
	w("  public_key_file: %q", filepath.Join(k.simDir, "app_public_key.pem"))
	w("  public_key_id: %q", wxKeyID)
	w("  base_url: %q", baseURL)
	w("  notify_url: %q", notifyURL)
	w("  call_timeout: %s", callTimeout)
	return b.String()
}

// wxTrade is a WeChat Pay simulator order in the suite's trade form, which
// speaks Alipay's states, so that checkSide's table holds for both:
//
//	WeChat Pay (GET /sim/wechat/trades)        as
//	-------------------------------------------------------------------------------
//	NOTPAY                                     an unscanned code ("" status), payable
//	                                             until its time_expire (pay_by)
//	USERPAYING                                 WAIT_BUYER_PAY
//	SUCCESS, or REFUND with less refunded      TRADE_SUCCESS, refund_fee the refunds
//	REFUND refunded in full                    TRADE_CLOSED, close_reason refund
//	CLOSED, PAYERROR                           TRADE_CLOSED, never paid
//	REVOKED (撤销) never paid                  TRADE_CLOSED, close_reason cancel
//	REVOKED after payment                      TRADE_CLOSED, cancel_action refund, the
//	                                             reverse's refund by_cancel
//
// Refunds count once WeChat Pay made them (SUCCESS); one still PROCESSING
// is listed apart (a mismatch at quiet), a CLOSED one failed. Each refund's
// out_refund_no is read back as the gateway's out_request_no (see
// gateway.WechatOutRefundNo: channel number, "-", out_request_no).
func wxTrade(v wechatpaysim.TradeView) simTrade {
	t := simTrade{Channel: "wechat", AppID: v.AppID, MchID: v.MchID, OutTradeNo: v.OutTradeNo, TradeNo: v.TransactionID,
		Kind: v.TradeType, WxState: v.TradeState, TotalAmount: yuan(v.Total), Subject: v.Description,
		PaidAt: v.PaidAt, ClosedAt: v.ClosedAt}
	var fee int64
	for _, r := range v.Refunds {
		switch r.Status {
		case wechatpay.RefundSuccess:
			no := r.OutRefundNo
			if !r.ByReverse {
				no = outRequestNoOf(v.OutTradeNo, r.OutRefundNo)
			}
			t.Refunds = append(t.Refunds, simRefund{OutRequestNo: no, Amount: yuan(r.Amount), ByCancel: r.ByReverse})
			fee += r.Amount
		case wechatpay.RefundProcessing:
			t.Processing = append(t.Processing, r.OutRefundNo+":"+yuan(r.Amount))
		}
	}
	t.RefundFee = yuan(fee)
	switch v.TradeState {
	case wechatpay.TradeNotPay:
		exp := v.PayBy
		if end := v.CreatedAt.Add(2 * time.Hour); end.Before(exp) { // a code_url lives 2 h
			exp = end
		}
		t.CodeExpires = &exp
	case wechatpay.TradeUserPaying:
		t.TradeStatus = "WAIT_BUYER_PAY"
	case wechatpay.TradeSuccess:
		t.TradeStatus = "TRADE_SUCCESS"
	case wechatpay.TradeRefund:
		t.TradeStatus = "TRADE_SUCCESS"
		if fee == v.Total {
			t.TradeStatus, t.CloseReason = "TRADE_CLOSED", "refund"
		}
	case wechatpay.TradeClosed, wechatpay.TradePayError:
		t.TradeStatus, t.CloseReason = "TRADE_CLOSED", strings.ToLower(v.TradeState)
	case wechatpay.TradeRevoked:
		t.TradeStatus, t.CloseReason = "TRADE_CLOSED", "cancel"
		if v.PaidAt != nil {
			t.CancelAction = "refund"
		}
	default:
		t.TradeStatus = "WECHAT_" + v.TradeState // unexpected: the table says so
	}
	return t
}

// outRequestNoOf is the gateway's out_request_no of a WeChat Pay refund:
// out_refund_no without its "<channel number>-" when the gateway derives
// exactly that number from it; anything else (a hashed number, which the
// suite's numbers never need) stays as it is.
func outRequestNoOf(channelNo, outRefundNo string) string {
	if r, ok := strings.CutPrefix(outRefundNo, channelNo+"-"); ok && gateway.WechatOutRefundNo(channelNo, r) == outRefundNo {
		return r
	}
	return outRefundNo
}
