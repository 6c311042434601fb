package mailustats

import (
	"path"
	"strings"

	"github.com/coredns/caddy"
)

// parseVersions reads `versions PATTERN...`: the version labels recorded, each exact or a glob
// (`*`, `?`, `[...]` as in path.Match), in any letter case.
func parseVersions(c *caddy.Controller, cfg *config, args []string) error {
	if len(args) == 0 {
		return c.ArgErr()
	}
	for _, pattern := range args {
		pattern = strings.ToLower(pattern)
		if _, err := path.Match(pattern, ""); err != nil {
			return c.Errf("versions: '%s' is not a pattern such as 19, 2* or master", pattern)
		}
		cfg.versions = append(cfg.versions, pattern)
	}
	return nil
}

// recordsVersion reports whether version, a valid lower-case label, is one to record.
func (cfg *config) recordsVersion(version string) bool {
	if len(cfg.versions) == 0 {
		return true
	}
	for _, pattern := range cfg.versions {
		if ok, _ := path.Match(pattern, version); ok {
			return true
		}
	}
	return false
}
