package proctest

import (
	"net"
	"strconv"
	"testing"
)

func TestFreePortIsFreeForTCPAndUDP(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	tl, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("expected %s free for TCP: %v", addr, err)
	}
	defer tl.Close()
	ul, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("expected %s free for UDP: %v", addr, err)
	}
	ul.Close()
}
