package httpapi

import (
	"log/slog"
	"net/http"

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
func (s *Server) notifyAlipay(c *gin.Context) {
	form, err := alipay.ReadNotificationForm(c.Request)
	if err == nil {
		addLogAttrs(c, slog.String("out_trade_no", form.Get("out_trade_no")))
		err = s.orders.HandleNotification(c.Request.Context(), form)
	}
	if err != nil {
		addLogAttrs(c, slog.String("notify_refused", err.Error()))
		c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(notifyFailure))
		return
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(alipay.NotifyAck))
}
