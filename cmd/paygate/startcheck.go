package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"

	"github.com/paygate/paygate/alipay"
)

// checkChannel makes one signed call to Alipay at start, a query of a trade
// that does not exist, and verifies the answer, so that a wrong key shows
// now, as one ERROR naming its setting, and not as WARN lines and 503s
// later. A key mismatch stops serve unless alipay.skip_startup_check; a
// channel that does not answer is only a warning (it may be back soon, and
// it says nothing about the keys).
func checkChannel(ctx context.Context, c *alipay.Client, cfg config, logger *slog.Logger) error {
	var err error
	var mismatch string
	// A mismatch is asked twice: one garbled answer is not a wrong key.
	for range 2 {
		callCtx, cancel := context.WithTimeout(ctx, cfg.Alipay.CallTimeout)
		_, err = c.Query(callCtx, alipay.TradeRef{OutTradeNo: "paygate-startup-check-" + rand.Text()})
		cancel()
		if mismatch = keyMismatch(err, cfg); mismatch == "" {
			break
		}
	}
	var ae *alipay.Error
	verified := err == nil || (errors.As(err, &ae) && ae.Code != "" && ae.Err == nil)
	switch {
	case mismatch != "":
		logger.Error("alipay keys do not match", "problem", mismatch, "gateway_url", cfg.Alipay.GatewayURL)
		if cfg.Alipay.SkipStartupCheck {
			logger.Warn("starting anyway: alipay.skip_startup_check is true")
			return nil
		}
		return fmt.Errorf("serve: %s (set alipay.skip_startup_check: true to start anyway)", mismatch)
	case verified:
		// A signed answer that verified, TRADE_NOT_EXIST as expected or
		// another: Alipay knows the app and its key is the configured one.
		logger.Info("alipay keys verified", "gateway_url", cfg.Alipay.GatewayURL)
	default:
		logger.Warn("alipay did not answer the startup check; keys not verified", "err", err)
	}
	return nil
}

// keyMismatch says which setting is wrong when err shows a key mismatch,
// "" otherwise.
func keyMismatch(err error, cfg config) string {
	var ae *alipay.Error
	if !errors.As(err, &ae) {
		return ""
	}
	switch {
	case errors.Is(err, alipay.ErrResponseSignature):
		if cfg.Alipay.AlipayCertFile != "" {
			return fmt.Sprintf("Alipay's answer does not verify with alipay.alipay_cert_file (%s): it is not the certificate of the Alipay gateway at alipay.gateway_url", cfg.Alipay.AlipayCertFile)
		}
		return fmt.Sprintf("Alipay's answer does not verify with alipay.alipay_public_key_file (%s): it is not the public key of the Alipay gateway at alipay.gateway_url", cfg.Alipay.AlipayPublicKeyFile)
	case errors.Is(err, alipay.ErrAlipayCert):
		return fmt.Sprintf("alipay.alipay_cert_file (%s) is not the certificate Alipay signs with: %v", cfg.Alipay.AlipayCertFile, ae.Err)
	}
	switch ae.SubCode {
	case alipay.SubInvalidSignature:
		return fmt.Sprintf("Alipay does not accept this app's signature: alipay.private_key_file (%s) does not match the app public key uploaded for app %s (sub_code %s)", cfg.Alipay.PrivateKeyFile, cfg.Alipay.AppID, ae.SubCode)
	case alipay.SubInvalidAppID:
		return fmt.Sprintf("Alipay does not know alipay.app_id %s (sub_code %s)", cfg.Alipay.AppID, ae.SubCode)
	}
	return ""
}
