package httpapi

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/paygate/paygate/alipay"
)

// notifyFailure is the answer that makes Alipay send a notification again.
const notifyFailure = "failure"

// notifyAlipay receives Alipay's asynchronous notifications. It answers
// "success" only when the service has verified and durably applied the
// notification; anything else answers "failure" so Alipay retries. The
// status is 200 either way: Alipay reads only the body. The log line carries
// the out_trade_no and the reason, never the form (it holds buyer data and
// the signature).
//
// Before the body is read, the client address must be in NotifyAllowlist
// (when set; else 403) and within NotifyRateLimit (else 429 with
// Retry-After); the body is "failure" either way, so Alipay tries again.
func (s *Server) notifyAlipay(c *gin.Context) {
	ip := c.ClientIP()
	if !s.notifyAllowed(ip) {
		warnRefused(c, ReasonNotAllowlisted, slog.String("notify_refused", "client address not in the notify allowlist"), slog.String("client_ip", ip))
		c.Data(http.StatusForbidden, "text/plain; charset=utf-8", []byte(notifyFailure))
		return
	}
	if d := s.notifyLimit.take(ipKey(ip), s.now()); d > 0 {
		warnRefused(c, ReasonNotifyLimited, slog.String("notify_refused", "rate limited"), slog.String("client_ip", ip))
		s.obs.RateLimited(ScopeNotify)
		c.Header("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
		c.Data(http.StatusTooManyRequests, "text/plain; charset=utf-8", []byte(notifyFailure))
		return
	}
	form, err := alipay.ReadNotificationForm(c.Request)
	if err == nil {
		addLogAttrs(c, slog.String("out_trade_no", form.Get("out_trade_no")))
		err = s.orders.HandleNotification(c.Request.Context(), form)
	}
	if err != nil {
		if reason := notifyReason(err); reason == ReasonDeferred {
			addLogAttrs(c, slog.String("reason", reason), slog.String("notify_deferred", err.Error()))
		} else {
			warnRefused(c, reason, slog.String("notify_refused", err.Error()))
		}
		c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(notifyFailure))
		return
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(alipay.NotifyAck))
}

// notifyAllowed reports whether ip may post notifications: any address when
// the allowlist is empty.
func (s *Server) notifyAllowed(ip string) bool {
	if len(s.notifyAllowlist) == 0 {
		return true
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.notifyAllowlist {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// maxWechatNotification bounds a WeChat Pay notification's body: a few
// hundred bytes of JSON around one encrypted transaction.
const maxWechatNotification = 64 << 10

// wechatFailure is the body that goes with a failure status; WeChat Pay
// retries on any 4xx or 5xx (docs/wechatpay-protocol.md, 6.4).
var wechatFailure = []byte(`{"code":"FAIL","message":"失败"}`)

// notifyWechat receives WeChat Pay's notifications: 204 only once the
// service has verified and durably applied one; 401 for a signature that
// does not verify, 500 for anything else, so WeChat Pay sends it again.
// The same allowlist and rate limit as /notify/alipay apply.
func (s *Server) notifyWechat(c *gin.Context) {
	ip := c.ClientIP()
	if !s.notifyAllowed(ip) {
		warnRefused(c, ReasonNotAllowlisted, slog.String("notify_refused", "client address not in the notify allowlist"), slog.String("client_ip", ip))
		c.Data(http.StatusForbidden, "application/json", wechatFailure)
		return
	}
	if d := s.notifyLimit.take(ipKey(ip), s.now()); d > 0 {
		warnRefused(c, ReasonNotifyLimited, slog.String("notify_refused", "rate limited"), slog.String("client_ip", ip))
		s.obs.RateLimited(ScopeNotify)
		c.Header("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
		c.Data(http.StatusTooManyRequests, "application/json", wechatFailure)
		return
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxWechatNotification+1))
	switch {
	case err != nil:
		err = fmt.Errorf("read the notification: %w", err)
	case len(body) > maxWechatNotification:
		err = fmt.Errorf("notification larger than %d bytes", maxWechatNotification)
	default:
		err = s.orders.HandleWechatNotification(c.Request.Context(), c.Request.Header, body)
	}
	if err != nil {
		status := http.StatusInternalServerError
		if notifyReason(err) == ReasonRefusedSig {
			status = http.StatusUnauthorized
		}
		if reason := notifyReason(err); reason == ReasonDeferred {
			addLogAttrs(c, slog.String("reason", reason), slog.String("notify_deferred", err.Error()))
		} else {
			warnRefused(c, reason, slog.String("notify_refused", err.Error()))
		}
		c.Data(status, "application/json", wechatFailure)
		return
	}
	c.Status(http.StatusNoContent)
}
