package sink

import "fmt"

// Parse turns the arguments of a `sink KIND ARGS...` line into an Opener, checking them but
// opening nothing.
func Parse(kind string, args []string) (Opener, error) {
	switch kind {
	case "file":
		return parseFile(args)
	}
	return nil, fmt.Errorf("unknown sink %q", kind)
}
