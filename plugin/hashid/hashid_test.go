package hashid

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestHash(t *testing.T) {
	const id = "0b7c3d3e-1111-4222-8333-444455556666"
	// The reference: the full HMAC from the standard library, cut to 32 digits.
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write([]byte(id))
	want := hex.EncodeToString(mac.Sum(nil))[:Len]

	h := New("s3cret")
	if got := h.Hash(id); got != want {
		t.Errorf("expected %s, got %s", want, got)
	}
	if got := h.Hash(id); got != want {
		t.Errorf("expected the same hash again, got %s", got)
	}
	if got := New("other").Hash(id); got == want || len(got) != Len {
		t.Errorf("expected another %d-digit hash under another secret, got %s", Len, got)
	}
	if a, b := h.Hash(id), h.Hash("0b7c3d3e-1111-4222-8333-444455556667"); a == b {
		t.Errorf("expected different IDs to hash apart, both gave %s", a)
	}
}
