package main

import (
	"fmt"
	"slices"
)

// anchor is the directive mailustats follows in the chain: after cache, so that repeats within
// the TTL are answered from the cache, and before every plugin that answers from data.
const anchor = "cache"

// insertAfter returns a copy of directives with name placed right after anchor.
func insertAfter(directives []string, anchor, name string) ([]string, error) {
	i := slices.Index(directives, anchor)
	if i < 0 {
		return nil, fmt.Errorf("directive %q not found, cannot place %q", anchor, name)
	}
	if slices.Contains(directives, name) {
		return nil, fmt.Errorf("directive %q is already registered", name)
	}
	return slices.Insert(slices.Clone(directives), i+1, name), nil
}
