package alipaysim

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
)

// Result codes and their English msg texts as Alipay sends them (§2.4).
const (
	msgSuccess  = "Success"
	msgPaying   = " order success pay inprocess" // leading space, as observed
	msgUnknown  = "Service Currently Unavailable"
	msgMissing  = "Missing Required Arguments"
	msgInvalid  = "Invalid Arguments"
	msgBusiness = "Business Failed"
)

// Sub-codes the simulator emits beyond those alipay names.
const (
	subUnknownError       = "isp.unknow-error" // sic: Alipay's spelling
	subMissingAppID       = "isv.missing-app-id"
	subMissingMethod      = "isv.missing-method"
	subInvalidMethod      = "isv.invalid-method"
	subMissingSignature   = "isv.missing-signature"
	subMissingSignType    = "isv.missing-signature-type"
	subMissingTimestamp   = "isv.missing-timestamp"
	subMissingVersion     = "isv.missing-version"
	subMissingAppCertSN   = "isv.missing-app-cert-sn"
	subInvalidSignType    = "isv.invalid-signature-type"
	subInvalidTimestamp   = "isv.invalid-timestamp"
	subInvalidCharset     = "isv.invalid-charset"
	subInvalidFormat      = "isv.invalid-format"
	subInvalidParam       = "isv.invalid-parameter"
	subAppCertNotExist    = "isv.app-cert-not-exist"
	subInvalidRootCertSN  = "invalid-alipay-root-cert-sn"
	subInvalidArguments   = "invalid_arguments"
	subSystemError        = alipay.SubCodeSystemError
	subMsgSystemBusy      = "系统繁忙"
	subMsgTradeNotExist   = "交易不存在"
	subMsgStatusError     = "交易状态不合法"
	subMsgSystemError     = "系统错误"
	subMsgInvalidSignHead = "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为："
)

// node builds one response node: compact JSON whose fields keep the order in
// which they are added. Amounts go through money so they always have two
// decimals, and zero amounts are written, not omitted.
type node struct{ buf []byte }

func newNode() *node { return &node{buf: []byte{'{'}} }

// str adds a string field.
func (n *node) str(k, v string) *node {
	if len(n.buf) > 1 {
		n.buf = append(n.buf, ',')
	}
	n.buf = appendString(n.buf, k)
	n.buf = append(n.buf, ':')
	n.buf = appendString(n.buf, v)
	return n
}

// opt adds a string field unless v is empty.
func (n *node) opt(k, v string) *node {
	if v != "" {
		n.str(k, v)
	}
	return n
}

// money adds an amount in yuan with two decimals.
func (n *node) money(k string, m paygate.Money) *node { return n.str(k, m.Yuan()) }

// raw adds a field whose value is already JSON.
func (n *node) raw(k string, v []byte) *node {
	if len(n.buf) > 1 {
		n.buf = append(n.buf, ',')
	}
	n.buf = appendString(n.buf, k)
	n.buf = append(n.buf, ':')
	n.buf = append(n.buf, v...)
	return n
}

// json is the object's bytes, "/" unescaped, for nesting into another node.
func (n *node) json() []byte { return append(bytes.Clone(n.buf), '}') }

// wire is the node as sent and signed: "/" escaped as "\/" (§2.1), which is
// safe because "/" can only occur inside strings in JSON text.
func (n *node) wire() []byte { return bytes.ReplaceAll(n.json(), []byte("/"), []byte(`\/`)) }

// appendString appends s as a JSON string, raw UTF-8, no HTML escaping.
func appendString(dst []byte, s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(dst, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
}

// success is the head of a 10000 node.
func success() *node { return newNode().str("code", alipay.CodeSuccess).str("msg", msgSuccess) }

// failure is the head of an error node; msg follows from the code.
func failure(code, subCode, subMsg string) *node {
	msg := msgBusiness
	switch code {
	case alipay.CodeUnknown:
		msg = msgUnknown
	case alipay.CodeMissingArgument:
		msg = msgMissing
	case alipay.CodeInvalidArgument:
		msg = msgInvalid
	}
	return newNode().str("code", code).str("msg", msg).str("sub_code", subCode).str("sub_msg", subMsg)
}

// business is a 40004 node head.
func business(subCode, subMsg string) *node {
	return failure(alipay.CodeBusinessFailed, subCode, subMsg)
}

// busy is the 20000 isp.unknow-error node (§2.4).
func busy() *node { return failure(alipay.CodeUnknown, subUnknownError, subMsgSystemBusy) }

// fundBills is the fund_bill_list of a response (snake_case keys, §3.2).
func fundBills(amount paygate.Money) []byte {
	return []byte("[" + string(newNode().str("amount", amount.Yuan()).str("fund_channel", "ALIPAYACCOUNT").json()) + "]")
}

// reply is one gateway answer before it is written.
type reply struct {
	key    string // the top-level key: <method>_response or error_response
	node   *node
	signed bool // unsigned only while the app is unknown, and for error_response
	ran    bool // the business method ran, so result faults may apply
	status int  // HTTP status; 0 means 200
}

// methodReply is a signed answer under method's node.
func methodReply(method string, n *node) reply {
	return reply{key: alipay.ResponseKey(method), node: n, signed: true}
}

// errorReply is an unsigned error_response, for calls whose method is unknown.
func errorReply(n *node) reply { return reply{key: alipay.ErrorResponseKey, node: n} }

// unsignedReply is an unsigned answer under method's node when the method is
// known, else under error_response.
func unsignedReply(method string, n *node) reply {
	if knownMethod(method) {
		return reply{key: alipay.ResponseKey(method), node: n}
	}
	return errorReply(n)
}

// body renders r (§8.2): the node first, then alipay_cert_sn in certificate
// mode, then sign over the node's exact bytes. badSign signs other bytes, for
// the bad_signature fault.
func (s *Server) body(r reply, badSign bool) []byte {
	nodeBytes := r.node.wire()
	var b bytes.Buffer
	b.WriteByte('{')
	b.Write(appendString(nil, r.key))
	b.WriteByte(':')
	b.Write(nodeBytes)
	if r.signed {
		if s.cfg.AlipayCertSN != "" {
			b.WriteString(`,"alipay_cert_sn":`)
			b.Write(appendString(nil, s.cfg.AlipayCertSN))
		}
		content := nodeBytes
		if badSign {
			content = append(bytes.Clone(nodeBytes), ' ')
		}
		sign, err := alipay.Sign(s.cfg.AlipayKey, content)
		if err != nil {
			s.log.Error("sign response", "err", err)
		}
		b.WriteString(`,"sign":`)
		b.Write(appendString(nil, sign))
	}
	b.WriteByte('}')
	return b.Bytes()
}

// writeReply sends r with the observed headers: HTTP 200, text/html;charset=utf-8.
func (s *Server) writeReply(w http.ResponseWriter, r reply, badSign bool) {
	body := s.body(r, badSign)
	w.Header().Set("Content-Type", "text/html;charset=utf-8")
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
