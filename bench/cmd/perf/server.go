//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/mailustats/mailustats/plugin/freeport"
)

// Bounds of starting and stopping a server.
const (
	startTimeout = 10 * time.Second // until a started server answers
	stopTimeout  = 30 * time.Second // from SIGTERM to exit, writing the sinks' backlogs included
	probeTimeout = 250 * time.Millisecond
	probeEvery   = 50 * time.Millisecond
	startTries   = 5 // fresh ports each time, in case another process took one meanwhile
)

// server is a running bin/coredns serving one configuration.
type server struct {
	cmd         *exec.Cmd
	dir         string
	port        int    // DNS, UDP and TCP on 127.0.0.1
	metricsAddr string // the prometheus plugin's address
	exited      chan struct{}
	waitErr     error // set before exited is closed
}

// startServer writes cfg's Corefile into dir and starts bin, trying fresh ports when the server
// exits at once, until it answers a query.
func startServer(ctx context.Context, bin string, cfg config, dir string) (*server, error) {
	var lastErr error
	for range startTries {
		s, err := startOnce(ctx, bin, cfg, dir)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func startOnce(ctx context.Context, bin string, cfg config, dir string) (*server, error) {
	port, err := freeport.Both()
	if err != nil {
		return nil, err
	}
	mport, err := freeport.TCP()
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, port: port, metricsAddr: "127.0.0.1:" + strconv.Itoa(mport), exited: make(chan struct{})}
	conf := filepath.Join(dir, "Corefile")
	if err := os.WriteFile(conf, []byte(cfg.corefile(dir, port, s.metricsAddr)), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "coredns.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	s.cmd = exec.Command(bin, "-conf", conf)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitAnswering(ctx); err != nil {
		s.kill()
		return nil, fmt.Errorf("%s on %s: %w\n%s", cfg.Name, conf, err, s.log())
	}
	return s, nil
}

// waitAnswering probes the server with a query for the zone's SOA until it answers.
func (s *server) waitAnswering(ctx context.Context) error {
	c := &dns.Client{Net: "udp", Timeout: probeTimeout}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(zone), dns.TypeSOA)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	deadline := time.Now().Add(startTimeout)
	for {
		if _, _, err := c.ExchangeContext(ctx, m, addr); err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("exited: %v", s.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(probeEvery):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer within %s", startTimeout)
		}
	}
}

// stop sends SIGTERM and waits for the server to exit, killing it after stopTimeout.
func (s *server) stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-s.exited:
		var exit *exec.ExitError
		if s.waitErr != nil && !errors.As(s.waitErr, &exit) {
			return s.waitErr
		}
		if exit != nil {
			return fmt.Errorf("coredns exited: %v\n%s", s.waitErr, s.log())
		}
		return nil
	case <-time.After(stopTimeout):
		s.kill()
		return fmt.Errorf("coredns did not exit within %s of SIGTERM; killed\n%s", stopTimeout, s.log())
	}
}

// kill ends the server at once and waits for it.
func (s *server) kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

// pid is the server's process ID.
func (s *server) pid() int { return s.cmd.Process.Pid }

// log returns the end of the server's output.
func (s *server) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "coredns.log"))
	return tail(string(b))
}
