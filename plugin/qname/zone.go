package qname

// Match returns the longest of zones (lower case, fully qualified) that name is equal to or below,
// comparing without regard to letter case, or "" when name is in none of them.
func Match(name string, zones []string) string {
	best := ""
	for _, z := range zones {
		if len(z) > len(best) && isSuffix(name, z) {
			best = z
		}
	}
	return best
}

// isSuffix reports whether zone is name itself or an ancestor of it: a case-insensitive suffix
// that starts at a label boundary, not after an escaped dot.
func isSuffix(name, zone string) bool {
	if len(name) < len(zone) {
		return false
	}
	start := len(name) - len(zone)
	for i := 0; i < len(zone); i++ {
		if lower(name[start+i]) != zone[i] {
			return false
		}
	}
	if start == 0 || zone == "." {
		return true
	}
	if name[start-1] != '.' {
		return false
	}
	backslashes := 0
	for i := start - 2; i >= 0 && name[i] == '\\'; i-- {
		backslashes++
	}
	return backslashes%2 == 0
}
