package wechatpay

import (
	"bytes"
	"fmt"
	"os"
)

// APIv3KeySize is the APIv3 key's length: 32 bytes, an AES-256 key (§6.3).
const APIv3KeySize = 32

// APIv3Key is the merchant's APIv3 key, the AES-256-GCM key of notification
// resources. It prints as a redaction with every fmt verb, so it cannot reach
// a log or an error by accident.
type APIv3Key struct{ k [APIv3KeySize]byte }

// ParseAPIv3Key takes the key as the merchant platform shows it: 32 ASCII
// bytes, used as they are. Surrounding white space (a file's trailing
// newline) is trimmed. Any other length is refused: Go would silently pick
// AES-128 or AES-192 for 16 or 24 bytes (§6.3 CLIENT).
func ParseAPIv3Key(b []byte) (APIv3Key, error) {
	b = bytes.TrimSpace(b)
	if len(b) != APIv3KeySize {
		return APIv3Key{}, fmt.Errorf("the APIv3 key is %d bytes; it must be exactly %d (the key set in the merchant platform)", len(b), APIv3KeySize)
	}
	var k APIv3Key
	copy(k.k[:], b)
	return k, nil
}

// LoadAPIv3Key reads ParseAPIv3Key's form from a file; errors name the file,
// never its content.
func LoadAPIv3Key(path string) (APIv3Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return APIv3Key{}, fmt.Errorf("read APIv3 key: %w", err)
	}
	k, err := ParseAPIv3Key(data)
	if err != nil {
		return APIv3Key{}, fmt.Errorf("APIv3 key file %s: %w", path, err)
	}
	return k, nil
}

// IsZero reports whether the key was never set.
func (k APIv3Key) IsZero() bool { return k.k == [APIv3KeySize]byte{} }

// String redacts the key.
func (APIv3Key) String() string { return "wechatpay.APIv3Key(redacted)" }

// GoString redacts the key for %#v.
func (APIv3Key) GoString() string { return "wechatpay.APIv3Key(redacted)" }

// Format redacts the key for every verb, %x and %d included.
func (APIv3Key) Format(f fmt.State, _ rune) { f.Write([]byte("wechatpay.APIv3Key(redacted)")) }
