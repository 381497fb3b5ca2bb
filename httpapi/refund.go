package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/paygate/paygate"
)

// refundJSON is a refund as the API shows it. Absent times are null.
type refundJSON struct {
	OutRequestNo string               `json:"out_request_no"`
	OutTradeNo   string               `json:"out_trade_no"`
	Amount       paygate.Money        `json:"amount"`
	Reason       string               `json:"reason"`
	Status       paygate.RefundStatus `json:"status"`
	CreatedAt    *string              `json:"created_at"`
	SucceededAt  *string              `json:"succeeded_at"`
}

func newRefundJSON(r *paygate.Refund) refundJSON {
	return refundJSON{
		OutRequestNo: r.OutRequestNo,
		OutTradeNo:   r.OutTradeNo,
		Amount:       r.Amount,
		Reason:       r.Reason,
		Status:       r.Status,
		CreatedAt:    optTime(r.CreatedAt),
		SucceededAt:  optTime(r.SucceededAt),
	}
}

// createRefundBody is POST /api/v1/orders/{out_trade_no}/refunds as sent.
type createRefundBody struct {
	OutRequestNo string `json:"out_request_no"`
	Amount       string `json:"amount"`
	Reason       string `json:"reason"`
}

func (b *createRefundBody) parse() (paygate.CreateRefund, error) {
	if err := checkTradeNo("out_request_no", b.OutRequestNo); err != nil {
		return paygate.CreateRefund{}, err
	}
	amount, err := parseAmount("amount", b.Amount)
	if err != nil {
		return paygate.CreateRefund{}, err
	}
	if err := checkText("reason", b.Reason, 256); err != nil {
		return paygate.CreateRefund{}, err
	}
	return paygate.CreateRefund{OutRequestNo: b.OutRequestNo, Amount: amount, Reason: b.Reason}, nil
}

// createRefund: 201 with a new refund, 200 with the same out_request_no's
// existing one.
func (s *Server) createRefund(c *gin.Context, m *paygate.Merchant) (int, any, error) {
	if err := checkQuery(c.Request.URL.Query()); err != nil {
		return 0, nil, err
	}
	no, err := pathTradeNo(c)
	if err != nil {
		return 0, nil, err
	}
	var b createRefundBody
	if err := decodeJSON(body(c), &b); err != nil {
		return 0, nil, err
	}
	req, err := b.parse()
	if err != nil {
		return 0, nil, err
	}
	r, created, err := s.orders.Refund(c.Request.Context(), m, no, req)
	if err != nil {
		return 0, nil, s.withOrder(c, m, no, err)
	}
	if created {
		return http.StatusCreated, newRefundJSON(r), nil
	}
	return http.StatusOK, newRefundJSON(r), nil
}

type refundListJSON struct {
	Refunds []refundJSON `json:"refunds"`
}

// listRefunds: an order's refunds, oldest first.
func (s *Server) listRefunds(c *gin.Context, m *paygate.Merchant) (int, any, error) {
	if err := checkQuery(c.Request.URL.Query()); err != nil {
		return 0, nil, err
	}
	no, err := pathTradeNo(c)
	if err != nil {
		return 0, nil, err
	}
	if err := emptyBody(body(c)); err != nil {
		return 0, nil, err
	}
	refunds, err := s.orders.ListRefunds(c.Request.Context(), m, no)
	if err != nil {
		return 0, nil, err
	}
	out := refundListJSON{Refunds: make([]refundJSON, 0, len(refunds))}
	for _, r := range refunds {
		out.Refunds = append(out.Refunds, newRefundJSON(r))
	}
	return http.StatusOK, out, nil
}
