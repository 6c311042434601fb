package pgtest

import (
	"sync"
	"testing"
)

// Shared is one server for all the tests of a package, each in a database of its own: the first
// test that asks starts it, and TestMain closes it after m.Run. A test that stops or restarts
// a server starts its own with Start.
type Shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Get returns the shared server, starting it on first use. Like Start, it skips or fails tb
// when no server can be started.
func (sh *Shared) Get(tb testing.TB) *Server {
	tb.Helper()
	sh.once.Do(func() { sh.srv, sh.err = start() })
	require(tb, sh.err)
	return sh.srv
}

// Close stops the shared server, if it was started, and removes its files.
func (sh *Shared) Close() error {
	if sh.srv == nil {
		return nil
	}
	return sh.srv.close()
}
