package mailustats

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits on the statistics API's clients: slow or oversized requests are cut off.
const (
	apiReadHeaderTimeout = 5 * time.Second
	apiReadTimeout       = 10 * time.Second
	apiWriteTimeout      = 30 * time.Second
	apiIdleTimeout       = 60 * time.Second
	apiMaxHeaderBytes    = 8 << 10
	apiShutdownTimeout   = 5 * time.Second
)

// apiServer is the statistics API's HTTP listener. It can let go of its address and take it
// again, because on reload the new instance starts before the old one shuts down.
type apiServer struct {
	addr    string
	handler http.Handler

	mu   sync.Mutex
	srv  *http.Server
	done chan struct{} // closed when srv's Serve has returned
}

// listen starts serving on addr, unless already serving.
func (a *apiServer) listen() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.srv != nil {
		return nil
	}
	ln, err := net.Listen("tcp", a.addr)
	if err != nil {
		return err
	}
	a.srv = &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: apiReadHeaderTimeout,
		ReadTimeout:       apiReadTimeout,
		WriteTimeout:      apiWriteTimeout,
		IdleTimeout:       apiIdleTimeout,
		MaxHeaderBytes:    apiMaxHeaderBytes,
	}
	a.done = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Errorf("api %s: %v", a.addr, err)
		}
	}(a.srv, a.done)
	return nil
}

// close stops serving, letting requests in flight finish for a while, and frees the address.
func (a *apiServer) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiShutdownTimeout)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		a.srv.Close()
	}
	<-a.done
	a.srv = nil
}
