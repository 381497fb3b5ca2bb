package alipaysim

import (
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"testing"
)

// SetPanicHook makes the gateway run f before each business method, so tests
// can drive the recover path. Call it before serving requests.
func SetPanicHook(s *Server, f func(method string)) { s.panicHook = f }

// SharedTestKeys are three RSA-2048 keys generated once per test binary
// (generation is slow): the simulator's Alipay key and two app keys.
var SharedTestKeys = sync.OnceValue(func() [3]*rsa.PrivateKey {
	var ks [3]*rsa.PrivateKey
	var wg sync.WaitGroup
	for i := range ks {
		wg.Go(func() {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			ks[i] = k
		})
	}
	wg.Wait()
	return ks
})

func testAlipayKey(*testing.T) *rsa.PrivateKey { return SharedTestKeys()[0] }
