package mailustats

import (
	"cmp"
	"runtime/debug"
)

// modulePath is this plugin's Go module, as the build information names it.
const modulePath = "github.com/mailustats/mailustats"

// The build identity that make build sets from git with -ldflags "-X
// github.com/mailustats/mailustats.buildVersion=... -X ...buildRevision=...".
var (
	buildVersion  string
	buildRevision string
)

// BuildIdentity returns the version and the commit of mailustats in this binary: those make
// build set, or else those Go recorded in it; "unknown" where neither is known.
func BuildIdentity() (version, revision string) {
	bi, _ := debug.ReadBuildInfo()
	return identity(bi, buildVersion, buildRevision)
}

// identity returns version and revision where they are set, and otherwise what bi records:
// for mailustats as the main module, its version and the commit of its checkout; as a
// dependency, its version, which for a pseudo-version names the commit too.
func identity(bi *debug.BuildInfo, version, revision string) (string, string) {
	var recorded, commit string
	switch {
	case bi == nil:
	case bi.Main.Path == modulePath:
		recorded = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				commit = s.Value
			}
		}
	default:
		for _, dep := range bi.Deps {
			if dep.Path == modulePath {
				recorded = dep.Version
			}
		}
	}
	if recorded == "(devel)" {
		recorded = ""
	}
	return cmp.Or(version, recorded, "unknown"), cmp.Or(revision, commit, "unknown")
}
