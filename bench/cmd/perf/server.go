//go:build linux

package main

import (
	"fmt"
	"strconv"
	"syscall"
	"time"

	"github.com/mailustats/mailustats/internal/testutil/corednstest"
)

// stopTimeout bounds a server's exit after SIGTERM, writing the sinks' backlogs included.
const stopTimeout = 30 * time.Second

// startServer starts bin in dir serving cfg's Corefile on free loopback ports, for DNS and for
// metrics, and waits until it answers.
func startServer(bin string, cfg config, dir string) (*corednstest.Server, error) {
	return corednstest.Launch(corednstest.Config{Bin: bin, Dir: dir, Ports: []string{"metrics"},
		Conf: func(ports map[string]int) string { return cfg.corefile(dir, ports["port"], metricsAddr(ports)) }})
}

// metricsAddr is the address of the prometheus plugin of a server on ports.
func metricsAddr(ports map[string]int) string {
	return "127.0.0.1:" + strconv.Itoa(ports["metrics"])
}

// stopServer sends SIGTERM and waits for the server to exit with status 0.
func stopServer(s *corednstest.Server) error {
	code, err := s.Shutdown(syscall.SIGTERM, stopTimeout)
	if err == nil && code != 0 {
		err = fmt.Errorf("%s exited with code %d", s.Name, code)
	}
	if err != nil {
		return fmt.Errorf("%w\n%s", err, tail(s.Out.String()))
	}
	return nil
}
