package sink

import (
	"fmt"
	"strings"
	"sync"
)

// testLogger records every call so tests can check what a worker reported, and how often.
type testLogger struct {
	mu      sync.Mutex
	entries []logEntry
}

type logEntry struct {
	level string
	msg   string
}

func (l *testLogger) Infof(format string, v ...any)    { l.add("info", format, v) }
func (l *testLogger) Warningf(format string, v ...any) { l.add("warning", format, v) }

func (l *testLogger) add(level, format string, v []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, logEntry{level: level, msg: fmt.Sprintf(format, v...)})
}

// count returns how many messages of level contain substr.
func (l *testLogger) count(level, substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.entries {
		if e.level == level && strings.Contains(e.msg, substr) {
			n++
		}
	}
	return n
}

func (l *testLogger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, e := range l.entries {
		fmt.Fprintf(&b, "%s: %s\n", e.level, e.msg)
	}
	return b.String()
}
