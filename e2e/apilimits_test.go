package e2e

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds of the API limits test.
const (
	apiLimitsClose   = 15 * time.Second // ReadHeaderTimeout (5 s) and slack: a slow client is cut off
	apiLimitsSlow    = 50               // slow clients at once
	apiLimitsTrickle = 500 * time.Millisecond
)

// The statistics API holds up against oversized and slow requests: they are refused or cut off
// while other clients are served, and the API listens only on the address it was given.
func TestAPILimits(t *testing.T) {
	dir := t.TempDir()
	apiAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	srv := startCoreDNS(t, fmt.Sprintf(`stats.mailu.io:{port} {
    bind 127.0.0.1
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        sink sqlite %s
        api %s
    }
}
`, filepath.Join(dir, "s.db"), apiAddr))
	summary := "http://" + apiAddr + "/api/v1/summary?days=1"
	serving := func(t *testing.T, after string) {
		t.Helper()
		if srv.Exited() {
			t.Fatalf("after %s: coredns exited", after)
		}
		if body, status := get(t, summary); status != http.StatusOK {
			t.Errorf("after %s: expected GET %s to answer 200, got %d: %s", after, summary, status, body)
		}
	}
	serving(t, "start-up")

	t.Run("URL of 100 KiB", func(t *testing.T) {
		req := "GET /api/v1/summary?days=1&x=" + strings.Repeat("A", 100<<10) + " HTTP/1.1\r\nHost: " + apiAddr + "\r\n\r\n"
		status, resp := apiLimitsRaw(t, apiAddr, req)
		if status != http.StatusRequestURITooLong && status != http.StatusRequestHeaderFieldsTooLarge && status != http.StatusBadRequest {
			t.Errorf("expected 414, 431 or 400, got %d: %.200q", status, resp)
		}
		t.Logf("answered %d", status)
		serving(t, "a long URL")
	})

	t.Run("headers of 20 KiB", func(t *testing.T) {
		status, resp := apiLimitsRaw(t, apiAddr, apiLimitsRequest(apiAddr, 20<<10))
		if status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("expected 431, got %d: %.200q", status, resp)
		}
		serving(t, "large headers")
	})

	t.Run("headers of 6 KiB", func(t *testing.T) {
		status, resp := apiLimitsRaw(t, apiAddr, apiLimitsRequest(apiAddr, 6<<10))
		if status != http.StatusOK {
			t.Errorf("expected 200 under the limit of 8 KiB, got %d: %.200q", status, resp)
		}
	})

	t.Run("slow client", func(t *testing.T) {
		c := apiLimitsDial(t, apiAddr)
		if _, err := c.Write([]byte("GET /api/v1/summ")); err != nil {
			t.Fatal(err)
		}
		if err := apiLimitsClosed(c, nil); err != nil {
			t.Error(err)
		}
	})

	t.Run("many slow clients", func(t *testing.T) {
		conns := make([]net.Conn, apiLimitsSlow)
		for i := range conns {
			conns[i] = apiLimitsDial(t, apiAddr)
			if _, err := conns[i].Write([]byte("GET /api/v1/daily?da")); err != nil {
				t.Fatal(err)
			}
		}
		// And one that sends a byte every apiLimitsTrickle, never the end of its headers.
		trickler := apiLimitsDial(t, apiAddr)
		conns = append(conns, trickler)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		defer wg.Wait()
		defer close(stop)
		wg.Go(func() {
			tick := time.NewTicker(apiLimitsTrickle)
			defer tick.Stop()
			msg := "GET /api/v1/summary?days=1 HTTP/1.1\r\nX-" + strings.Repeat("a", 1000)
			for i := 0; ; i = (i + 1) % len(msg) {
				if _, err := trickler.Write([]byte{msg[i]}); err != nil {
					return
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		})
		closed := make(chan error, len(conns))
		for _, c := range conns {
			go func() { closed <- apiLimitsClosed(c, nil) }()
		}
		for _, path := range []string{"/api/v1/summary?days=1", "/api/v1/daily?days=7", "/"} {
			if body, status := get(t, "http://"+apiAddr+path); status != http.StatusOK {
				t.Errorf("GET %s with %d slow clients: expected 200, got %d: %.200s", path, len(conns), status, body)
			}
		}
		for range conns {
			if err := <-closed; err != nil {
				t.Error(err)
			}
		}
		serving(t, "many slow clients")
	})

	t.Run("bad days", func(t *testing.T) {
		for _, days := range []string{"0", "-1", "+5", "abc", "7321", "1.5", "", "1e3", "0x10", "%205", "5%20", "99999999999999999999", "1&days=2"} {
			for _, api := range []string{"summary", "daily", "new", "upgrades"} {
				url := "http://" + apiAddr + "/api/v1/" + api + "?days=" + days
				resp, body := apiLimitsGet(t, url)
				var e struct {
					Error string `json:"error"`
				}
				if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
					json.Unmarshal(body, &e) != nil || e.Error == "" {
					t.Errorf("GET %s: expected 400 with a JSON error, got %d %s: %s", url, resp.StatusCode, resp.Header.Get("Content-Type"), body)
				}
			}
		}
		serving(t, "bad days")
	})

	t.Run("listens only on the address given", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(apiAddr)
		for _, other := range []string{"127.0.0.2", "::1"} {
			addr := net.JoinHostPort(other, port)
			if c, err := net.DialTimeout("tcp", addr, httpTimeout); err == nil {
				c.Close()
				t.Errorf("dial %s: expected the API only on %s, got a connection", addr, apiAddr)
			}
		}
		listening := apiLimitsListeners(t, port)
		if len(listening) != 1 || listening[0] != apiAddr {
			t.Errorf("expected one listener on port %s, at %s; got %v", port, apiAddr, listening)
		}
	})

	srv.Stop(t)
}

// apiLimitsRequest returns a GET of the summary with about size octets of extra headers.
func apiLimitsRequest(host string, size int) string {
	var b strings.Builder
	b.WriteString("GET /api/v1/summary?days=1 HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "X-Pad-%03d: %s\r\n", i, strings.Repeat("a", 1000))
	}
	b.WriteString("\r\n")
	return b.String()
}

// apiLimitsDial connects to the API; the connection is closed when the test ends.
func apiLimitsDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, httpTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// apiLimitsRaw sends req on a new connection, reading while it writes, and returns the status
// of the response and the response as read until the server closed the connection.
func apiLimitsRaw(t *testing.T, addr, req string) (int, string) {
	t.Helper()
	c := apiLimitsDial(t, addr)
	go c.Write([]byte(req)) // may fail once the server has answered and hung up
	var resp []byte
	if err := apiLimitsClosed(c, &resp); err != nil {
		t.Error(err)
	}
	line, _, _ := strings.Cut(string(resp), "\r\n")
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/1.") {
		t.Fatalf("expected an HTTP response, got %.200q", resp)
	}
	status, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("expected an HTTP status, got %q", line)
	}
	return status, string(resp)
}

// apiLimitsClosed reads c until the server closes it, keeping what it read in got when set, and
// returns an error unless that happened within apiLimitsClose.
func apiLimitsClosed(c net.Conn, got *[]byte) error {
	if err := c.SetReadDeadline(time.Now().Add(apiLimitsClose)); err != nil {
		return err
	}
	b, err := io.ReadAll(c)
	if got != nil {
		*got = b
	}
	switch {
	case err == nil, errors.Is(err, syscall.ECONNRESET):
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%s: expected the server to close the connection within %s, still open (read %.100q)", c.LocalAddr(), apiLimitsClose, b)
	default:
		return fmt.Errorf("%s: %v", c.LocalAddr(), err)
	}
}

// apiLimitsGet returns the response and body of a GET that must succeed.
func apiLimitsGet(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	c := &http.Client{Timeout: httpTimeout}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp, body
}

// apiLimitsListeners returns the local addresses of the TCP sockets listening on port, from
// /proc/net/tcp and /proc/net/tcp6.
func apiLimitsListeners(t *testing.T, port string) []string {
	t.Helper()
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // the heading
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "0A" { // LISTEN
				continue
			}
			host, hexPort, ok := strings.Cut(fields[1], ":")
			if lp, err := strconv.ParseUint(hexPort, 16, 16); !ok || err != nil || int(lp) != p {
				continue
			}
			out = append(out, net.JoinHostPort(apiLimitsIP(t, host).String(), port))
		}
		f.Close()
	}
	return out
}

// apiLimitsIP decodes an address of /proc/net/tcp: 32-bit words in host (little-endian) order.
func apiLimitsIP(t *testing.T, s string) net.IP {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b)%4 != 0 {
		t.Fatalf("/proc/net/tcp: bad address %q", s)
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.IP(b)
}
