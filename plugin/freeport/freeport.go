// Package freeport finds ports on 127.0.0.1 for the servers that tests and benchmarks start.
// A port is only known to be free at the moment it is found; a caller whose server then fails
// to bind should try another.
package freeport

import (
	"fmt"
	"net"
	"strconv"
)

// tries bounds the search for a port free for both TCP and UDP.
const tries = 20

// TCP returns a port that was free for TCP a moment ago.
func TCP() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Both returns a port that was free for both TCP and UDP a moment ago, as a DNS server needs.
func Both() (int, error) {
	var lastErr error
	for range tries {
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		tl.Close()
		if err != nil {
			lastErr = err
			continue
		}
		ul.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no port free for both UDP and TCP: %w", lastErr)
}
