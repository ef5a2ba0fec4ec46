package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sessionbench/sessionbench/reference/auth/authtest"
)

// FuzzLocalVerify feeds arbitrary strings and mutations of one valid token
// to the local verifier: it must never panic, and it must accept nothing
// but the exact valid token (a mutated token is accepted only if it decodes
// to the same header, claims and signature, which base64 padding bits can
// allow; then the verified claims must be the original ones).
func FuzzLocalVerify(f *testing.F) {
	key, pub := authtest.NewKey(f)
	v := newLocal(f, pub)
	valid := authtest.Mint(key, project, "fuzz-user", at(-time.Minute, time.Hour))
	f.Add(valid)
	f.Add("")
	f.Add("a.b.c")
	f.Add(valid[:len(valid)-1])
	f.Add(strings.Replace(valid, ".", "..", 1))
	f.Add(valid + "A")
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := v.Verify(context.Background(), tok, false)
		if err != nil {
			return
		}
		if tok != valid && (got.UID != "fuzz-user" || !got.IssuedAt.Equal(fixedNow.Add(-time.Minute))) {
			t.Fatalf("mutated token accepted with different claims: %+v", got)
		}
	})
}
