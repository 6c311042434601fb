//go:build linux

package main

import (
	"io"
	"os"
	"syscall"
	"time"
)

// dnsperf -v writes each line with its own write(2). Reading them one by one would cost this
// program a tenth of a core at 40,000 queries a second, taken from the processes it measures; so
// the output goes through a large pipe that is read in batches every readEvery. The pipe is a
// blocking one, kept out of Go's network poller, which would otherwise wake up at every write.
const (
	pipeSize  = 1 << 20 // the default /proc/sys/fs/pipe-max-size: 150 ms of -v lines at 75,000 a second
	readEvery = 20 * time.Millisecond
)

// fSetPipeSize is F_SETPIPE_SZ of fcntl(2) on Linux.
const fSetPipeSize = 1031

// batchPipe returns a pipe for a child's output whose read end reads at most every readEvery.
// The pipe is enlarged to pipeSize where the system allows it; where not, the writer may wait.
func batchPipe() (*pacedReader, *os.File, error) {
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC); err != nil {
		return nil, nil, os.NewSyscallError("pipe2", err)
	}
	syscall.Syscall(syscall.SYS_FCNTL, uintptr(fds[1]), fSetPipeSize, pipeSize)
	// os.NewFile leaves blocking descriptors out of the poller.
	r, w := os.NewFile(uintptr(fds[0]), "|0"), os.NewFile(uintptr(fds[1]), "|1")
	return &pacedReader{r: r, every: readEvery}, w, nil
}

// pacedReader reads from r no more often than every while r has less than a buffer's worth
// waiting, so that what many small writes put in between arrives in one read.
type pacedReader struct {
	r     *os.File
	every time.Duration
	last  time.Time
	full  bool // the last read filled its buffer: more may be waiting
}

// Read waits until every has passed since the last read, unless that read filled its buffer,
// then reads.
func (p *pacedReader) Read(b []byte) (int, error) {
	if d := time.Until(p.last.Add(p.every)); d > 0 && !p.full {
		time.Sleep(d)
	}
	p.last = time.Now()
	n, err := p.r.Read(b)
	p.full = n == len(b)
	return n, err
}

// Close closes the read end.
func (p *pacedReader) Close() error { return p.r.Close() }

var _ io.ReadCloser = (*pacedReader)(nil)
