// Package hashid replaces instance IDs by keyed hashes, so that a leaked database cannot be
// matched against known instances while distinct counts stay the same.
package hashid

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// Len is the length of a hashed ID: 32 hex digits, 128 bits of the HMAC.
const Len = 32

// Hasher hashes IDs with one secret. It is safe for concurrent use.
type Hasher struct {
	key []byte
}

// New returns a Hasher keyed with secret.
func New(secret string) *Hasher { return &Hasher{key: []byte(secret)} }

// Hash returns HMAC-SHA256(secret, id) in lower-case hex, cut to Len digits.
func (h *Hasher) Hash(id string) string {
	mac := hmac.New(sha256.New, h.key)
	mac.Write([]byte(id))
	var sum [sha256.Size]byte
	return hex.EncodeToString(mac.Sum(sum[:0])[:Len/2])
}
