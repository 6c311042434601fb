package table

import "testing"

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		in, kind string
	}{
		{"0b7c3d3e-1111-4222-8333-444455556666", KindUUID},
		{"0b7c3d3e11114222833344445555666f", KindHash},
	} {
		k, kind, err := ParseKey(tc.in)
		if err != nil || kind != tc.kind || k.Format(kind) != tc.in {
			t.Errorf("%s: expected kind %s and the same text back, got %s %q %v", tc.in, tc.kind, kind, k.Format(kind), err)
		}
	}
	for _, bad := range []string{"", "x", "0b7c3d3e-1111-4222-8333-44445555666g", "0b7c3d3e11114222833344445555666", "0b7c3d3e11114222833344445555666z"} {
		if _, _, err := ParseKey(bad); err == nil {
			t.Errorf("%q: expected an error, got none", bad)
		}
	}
}
