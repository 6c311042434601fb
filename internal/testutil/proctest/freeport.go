package proctest

import (
	"fmt"
	"net"
	"strconv"
)

// portTries bounds the search for a port free for both TCP and UDP.
const portTries = 20

// FreePort returns a port on 127.0.0.1 that was free for both TCP and UDP a moment ago, as a DNS
// server needs. It is only known to be free at that moment: a caller whose server then fails to
// bind it should try another.
func FreePort() (int, error) {
	var lastErr error
	for range portTries {
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
