package alipay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ResponseKey is the top-level key of method's response node: the method with
// "." replaced by "_", plus "_response" (§2.1).
func ResponseKey(method string) string {
	return strings.ReplaceAll(method, ".", "_") + "_response"
}

// ErrorResponseKey is the node Alipay uses when it cannot resolve the method.
const ErrorResponseKey = "error_response"

// RawResponse is a gateway response split into the exact bytes of its node
// and the fields beside it. Node is what the signature covers (§2.2).
type RawResponse struct {
	Key          string          // which key held the node
	Node         json.RawMessage // the node's bytes exactly as sent
	Sign         string          // empty when unsigned
	AlipayCertSN string          // certificate mode only
}

// ExtractResponse finds method's node in body, falling back to error_response.
// It walks the top-level object with a streaming decoder, so the node's bytes
// are the body's bytes (never a re-encoding), and it rejects a body that holds
// a node key twice, which a JSON map would silently collapse.
func ExtractResponse(body []byte, method string) (*RawResponse, error) {
	want := ResponseKey(method)
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, errors.New("response is not a JSON object")
	}
	var r RawResponse
	var errNode json.RawMessage
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("malformed response: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("malformed response: key is not a string")
		}
		if seen[key] {
			return nil, fmt.Errorf("malformed response: key %q appears twice", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("malformed response: %w", err)
		}
		switch key {
		case want:
			r.Node = raw
		case ErrorResponseKey:
			errNode = raw
		case "sign":
			if err := json.Unmarshal(raw, &r.Sign); err != nil {
				return nil, errors.New("malformed response: sign is not a string")
			}
		case "alipay_cert_sn":
			if err := json.Unmarshal(raw, &r.AlipayCertSN); err != nil {
				return nil, errors.New("malformed response: alipay_cert_sn is not a string")
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("malformed response: %w", err)
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return nil, errors.New("malformed response: data after the object")
	}
	switch {
	case r.Node != nil:
		r.Key = want
	case errNode != nil:
		r.Key, r.Node = ErrorResponseKey, errNode
	default:
		return nil, fmt.Errorf("response has neither %s nor %s", want, ErrorResponseKey)
	}
	if len(r.Node) == 0 || r.Node[0] != '{' {
		return nil, fmt.Errorf("response node %s is not an object", r.Key)
	}
	return &r, nil
}
