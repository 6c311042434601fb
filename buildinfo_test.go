package mailustats

import (
	"runtime/debug"
	"testing"
)

func TestIdentity(t *testing.T) {
	const commit = "44dbcf2a1b2c3d4e5f60718293a4b5c6d7e8f901"
	main := &debug.BuildInfo{
		Main:     debug.Module{Path: modulePath, Version: "v0.0.0-20261130113151-44dbcf2a1b2c+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: commit}},
	}
	dependency := &debug.BuildInfo{
		Main: debug.Module{Path: "example.org/coredns", Version: "(devel)"},
		Deps: []*debug.Module{{Path: "github.com/miekg/dns", Version: "v1.1.0"}, {Path: modulePath, Version: "v1.2.0"}},
	}
	for _, tc := range []struct {
		name                   string
		bi                     *debug.BuildInfo
		version, revision      string // set at link time
		wantVersion, wantRevis string
	}{
		{"make build", main, "v1.2.0-3-g44dbcf2-dirty", "0123", "v1.2.0-3-g44dbcf2-dirty", "0123"},
		{"go build in a checkout", main, "", "", "v0.0.0-20261130113151-44dbcf2a1b2c+dirty", commit},
		{"a checkout without git", &debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "(devel)"}}, "", "", "unknown", "unknown"},
		{"a dependency of another build", dependency, "", "", "v1.2.0", "unknown"},
		{"no build information", nil, "", "", "unknown", "unknown"},
	} {
		v, r := identity(tc.bi, tc.version, tc.revision)
		if v != tc.wantVersion || r != tc.wantRevis {
			t.Errorf("%s: expected %s %s, got %s %s", tc.name, tc.wantVersion, tc.wantRevis, v, r)
		}
	}
}
