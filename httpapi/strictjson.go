package httpapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkJSONText refuses a body that is not valid UTF-8, or that escapes a
// lone UTF-16 surrogate (\ud800 without its pair): encoding/json would turn
// either into U+FFFD without a word, storing text the merchant never sent.
func checkJSONText(body []byte) error {
	if !utf8.Valid(body) {
		return invalid("the request body must be valid UTF-8")
	}
	for i := 0; i+1 < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		if body[i+1] != 'u' {
			i++ // a one-character escape such as \\ or \"
			continue
		}
		r, ok := hex4(body, i+2)
		switch {
		case !ok:
			return nil // not JSON: the decoder says so
		case r >= 0xD800 && r <= 0xDBFF:
			lo, ok := hex4(body, i+8)
			if !ok || body[i+6] != '\\' || body[i+7] != 'u' || lo < 0xDC00 || lo > 0xDFFF {
				return invalid("the request body escapes an unpaired UTF-16 surrogate (\\u%04x), which is not text", r)
			}
			i += 11
		case r >= 0xDC00 && r <= 0xDFFF:
			return invalid("the request body escapes an unpaired UTF-16 surrogate (\\u%04x), which is not text", r)
		default:
			i += 5
		}
	}
	return nil
}

// hex4 reads the four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// jsonFrame is one open object or array while checkJSONKeys walks a body.
type jsonFrame struct {
	object bool
	seen   map[string]string // folded key -> the key as first given
	keyNow bool              // in an object: the next token is a key
}

// checkJSONKeys walks body's tokens and refuses, in any object at any depth,
// a key given twice, also when the two differ only in case (encoding/json
// matches keys case-insensitively, so "TOTAL_AMOUNT" would override
// "total_amount"). At the top level, a key that matches one of fields only
// when case is ignored is refused too: keys are case-sensitive. Syntax
// errors are left to the decoder, which describes them.
func checkJSONKeys(body []byte, fields []string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	exact := map[string]string{} // folded name -> the field's own spelling
	for _, f := range fields {
		exact[foldKey(f)] = f
	}
	var stack []*jsonFrame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].keyNow = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or a syntax error the decoder reports
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].keyNow {
			top := stack[n-1]
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			key, _ := tok.(string)
			folded := foldKey(key)
			if prev, dup := top.seen[folded]; dup {
				if prev == key {
					return invalid("the request body gives key %q twice", key)
				}
				return invalid("the request body gives key %q twice, as %q and %q (keys are case-sensitive)", prev, prev, key)
			}
			top.seen[folded] = key
			if want, ok := exact[folded]; ok && n == 1 && want != key {
				return invalid("unknown field %q (keys are case-sensitive: %q)", key, want)
			}
			top.keyNow = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &jsonFrame{object: true, seen: map[string]string{}, keyNow: true})
		case json.Delim('['):
			stack = append(stack, &jsonFrame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// foldKey maps a key to one spelling per case-insensitive class, as
// encoding/json compares them: each rune becomes the smallest of its simple
// case-folding orbit (so "K", "k" and the Kelvin sign fold alike).
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

// jsonFieldNames lists the JSON names of the fields of the struct v points
// to (none for anything else).
func jsonFieldNames(v any) []string {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	t = t.Elem()
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}
