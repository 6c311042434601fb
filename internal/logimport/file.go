package logimport

import (
	"bufio"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"sync/atomic"
)

// StdinName is the name Open gives to "-", standard input.
const StdinName = "<stdin>"

// bufSize is the size of the reads from a file.
const bufSize = 1 << 16

// gzipMagic are the first bytes of a gzip file.
const gzipMagic = "\x1f\x8b"

// File is a log opened for reading: Read returns its lines' bytes, decompressed, while Consumed
// counts the bytes read from the file itself, for a progress bar.
type File struct {
	name     string
	size     int64
	consumed atomic.Int64
	r        io.Reader
	gz       *gzip.Reader // nil for a plain file
	f        *os.File     // nil for standard input, which the caller owns
}

// Open opens name for reading lines: "-" is stdin, a gzip file (told by its first bytes, not its
// name) is decompressed as it is read.
func Open(name string, stdin io.Reader) (*File, error) {
	if name == "-" {
		return newFile(StdinName, stdin, -1)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	size := int64(-1)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	lf, err := newFile(name, f, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	lf.f = f
	return lf, nil
}

// newFile reads src, decompressing it if it is gzip.
func newFile(name string, src io.Reader, size int64) (*File, error) {
	lf := &File{name: name, size: size}
	buf := bufio.NewReaderSize(counter{src, &lf.consumed}, bufSize)
	lf.r = buf
	magic, err := buf.Peek(len(gzipMagic))
	if err != nil && err != io.EOF {
		return nil, readError(name, err)
	}
	if string(magic) == gzipMagic {
		if lf.gz, err = gzip.NewReader(buf); err != nil {
			return nil, readError(name, err)
		}
		lf.r = lf.gz
	}
	return lf, nil
}

// readError names the file in err, unless err names it already as the os package's errors do.
func readError(name string, err error) error {
	if _, ok := err.(*fs.PathError); ok {
		return err
	}
	return &fs.PathError{Op: "read", Path: name, Err: err}
}

// Read reads the decompressed bytes.
func (f *File) Read(p []byte) (int, error) { return f.r.Read(p) }

// Close closes the file; standard input is left open.
func (f *File) Close() error {
	var err error
	if f.gz != nil {
		err = f.gz.Close()
	}
	if f.f != nil {
		err = errors.Join(err, f.f.Close())
	}
	return err
}

// Name is the name the file was opened with, or StdinName.
func (f *File) Name() string { return f.name }

// Size is the file's size in bytes as stored, or -1 when unknown (standard input, a pipe).
func (f *File) Size() int64 { return f.size }

// Consumed is how many bytes were read from the file as stored (compressed) so far. It may be
// called while another goroutine reads.
func (f *File) Consumed() int64 { return f.consumed.Load() }

// counter counts the bytes read from r into n.
type counter struct {
	r io.Reader
	n *atomic.Int64
}

func (c counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
