package client

import (
	"net/url"
	"testing"
)

// The expected strings below were written by hand from contract.md's rule,
// not produced by the code under test; the signatures were computed once with
//
//	printf '%s' "$STRING" | openssl dgst -sha256 -hmac sk_test
func TestSignGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		path   string
		query  url.Values
		body   []byte
		want   string
		sig    string
	}{
		{
			name:   "post with body",
			method: "POST",
			path:   "/api/v1/orders",
			body:   []byte(`{"a":1}`),
			// bodySha256 is sha256sum of {"a":1}; the path's slashes are %2F.
			want: "accessKey=ak_test" +
				"&bodySha256=015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862" +
				"&method=POST&nonce=abcdefgh12345678&path=%2Fapi%2Fv1%2Forders&timestamp=1700000000000",
			sig: "5624545809c9012cce83c9bc2eeef28711c78629bf81b6443ecf9b56f542d669",
		},
		{
			// A space becomes "+", "~" stays as it is, as url.Values.Encode
			// writes them; query keys sort among the reserved ones; the method
			// is upper-cased; an empty body hashes the empty string.
			name:   "get with query",
			method: "get",
			path:   "/api/v1/orders",
			query:  url.Values{"status": {"paid"}, "cursor": {"a~b c"}},
			want: "accessKey=ak_test" +
				"&bodySha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" +
				"&cursor=a~b+c&method=GET&nonce=abcdefgh12345678&path=%2Fapi%2Fv1%2Forders" +
				"&status=paid&timestamp=1700000000000",
			sig: "cf5d0719acaf63a6f2d41901d2ab993727cd2981f2469224e77e387088150a95",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := StringToSign(tt.method, tt.path, tt.query, "ak_test", "1700000000000", "abcdefgh12345678", tt.body)
			if got != tt.want {
				t.Errorf("StringToSign =\n%s\nwant\n%s", got, tt.want)
			}
			sig := Sign("sk_test", tt.method, tt.path, tt.query, "ak_test", "1700000000000", "abcdefgh12345678", tt.body)
			if sig != tt.sig {
				t.Errorf("Sign = %s, want %s", sig, tt.sig)
			}
		})
	}
}

func TestStringToSignMatchesValuesEncode(t *testing.T) {
	t.Parallel()
	q := url.Values{"q": {"a b~c/d&e=f"}}
	got := StringToSign("GET", "/p", q, "k", "1", "nonce123", nil)
	want := url.Values{
		"q": {"a b~c/d&e=f"}, "accessKey": {"k"}, "timestamp": {"1"}, "nonce": {"nonce123"},
		"method": {"GET"}, "path": {"/p"},
		"bodySha256": {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	}.Encode()
	if got != want {
		t.Errorf("StringToSign = %s, want %s", got, want)
	}
	if q.Get("accessKey") != "" {
		t.Error("StringToSign modified the caller's query")
	}
}

func TestReservedQueryNamesReplaced(t *testing.T) {
	t.Parallel()
	a := StringToSign("GET", "/p", url.Values{"path": {"/evil"}}, "k", "1", "nonce123", nil)
	b := StringToSign("GET", "/p", nil, "k", "1", "nonce123", nil)
	if a != b {
		t.Errorf("a reserved query name changed the string to sign:\n%s\n%s", a, b)
	}
}
