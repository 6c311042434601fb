package main

import (
	"slices"
	"testing"

	"github.com/coredns/coredns/core/dnsserver"
)

func TestMailustatsFollowsCache(t *testing.T) {
	i := slices.Index(dnsserver.Directives, "mailustats")
	if i < 1 || dnsserver.Directives[i-1] != anchor {
		t.Fatalf("expected mailustats right after %s, got position %d in %v", anchor, i, dnsserver.Directives)
	}
	for _, answering := range []string{"template", "file", "forward", "whoami"} {
		if j := slices.Index(dnsserver.Directives, answering); j < i {
			t.Errorf("expected mailustats before %s, got %d and %d", answering, i, j)
		}
	}
}

func TestInsertAfter(t *testing.T) {
	base := []string{"log", "cache", "forward"}
	got, err := insertAfter(base, "cache", "x")
	if err != nil || !slices.Equal(got, []string{"log", "cache", "x", "forward"}) {
		t.Errorf("expected x after cache, got %v, %v", got, err)
	}
	if !slices.Equal(base, []string{"log", "cache", "forward"}) {
		t.Errorf("expected the original list untouched, got %v", base)
	}
	if _, err := insertAfter(base, "nocache", "x"); err == nil {
		t.Error("expected an error for a missing anchor")
	}
	if _, err := insertAfter(base, "cache", "log"); err == nil {
		t.Error("expected an error for a directive already present")
	}
}
