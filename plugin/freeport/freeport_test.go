package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestBothIsFreeForTCPAndUDP(t *testing.T) {
	port, err := Both()
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

func TestTCPIsFree(t *testing.T) {
	port, err := TCP()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("expected port %d free for TCP: %v", port, err)
	}
	l.Close()
}
