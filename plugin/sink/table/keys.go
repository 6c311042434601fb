package table

import (
	"encoding/hex"
	"fmt"

	"github.com/google/uuid"
)

// Key is an instance ID as the SQL sinks store it: the 16 bytes of a UUID, or of a hash_ids
// digest.
type Key [16]byte

// The kinds of instance IDs a database holds, as its settings name them.
const (
	KindUUID = "uuid" // the UUIDs Mailu instances announce
	KindHash = "hash" // hash_ids digests of them
)

// ParseKey reads an instance ID as the recorder hands it to the sinks, a UUID in its
// 36-character form or a digest of 32 hex digits, and says which kind it is.
func ParseKey(instance string) (Key, string, error) {
	var k Key
	switch len(instance) {
	case 36:
		id, err := uuid.Parse(instance)
		if err == nil {
			return Key(id), KindUUID, nil
		}
	case 2 * len(k):
		if _, err := hex.Decode(k[:], []byte(instance)); err == nil {
			return k, KindHash, nil
		}
	}
	return k, "", fmt.Errorf("instance %q is neither a UUID nor a digest of 32 hex digits", instance)
}

// Format writes k as an ID of kind: a UUID's 36-character form, or 32 lower-case hex digits.
func (k Key) Format(kind string) string {
	if kind == KindUUID {
		return uuid.UUID(k).String()
	}
	return hex.EncodeToString(k[:])
}
