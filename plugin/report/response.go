package report

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// gzipMin is the smallest body worth compressing: below it the gzip header and the work cost
// more than they save.
const gzipMin = 1024

// gzipWriters are reused between responses: a gzip.Writer holds a few hundred KiB of tables.
var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level: no error
	return w
}}

// writeBody writes body with the given status and headers set by the caller. A successful
// response gets an ETag, and a 304 with no body when the request's If-None-Match names it. A
// body of gzipMin bytes or more is compressed with gzip when the client accepts it. The ETag is
// weak, so the compressed and the plain bytes share it, as they hold the same answer.
func writeBody(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	hdr := w.Header()
	large := len(body) >= gzipMin
	if large {
		hdr.Add("Vary", "Accept-Encoding")
	}
	if status == http.StatusOK {
		tag := etag(body)
		hdr.Set("ETag", tag)
		if matches(r.Header.Values("If-None-Match"), tag) {
			hdr.Del("Content-Type")
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if large && acceptsGzip(r.Header.Values("Accept-Encoding")) {
		body = compress(body)
		hdr.Set("Content-Encoding", "gzip")
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body) // the client may be gone; nothing to do about it
}

// etag is the weak entity tag of body: a digest of its bytes.
func etag(body []byte) string {
	sum := sha256.Sum256(body)
	return `W/"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}

// matches reports whether an If-None-Match header names tag, or is "*". Tags compare weakly, as
// RFC 9110 asks for If-None-Match: W/"x" matches "x".
func matches(headers []string, tag string) bool {
	want := strings.TrimPrefix(tag, "W/")
	for _, h := range headers {
		for t := range strings.SplitSeq(h, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == want {
				return true
			}
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header takes gzip: named, or "*", without q=0.
func acceptsGzip(headers []string) bool {
	for _, h := range headers {
		for coding := range strings.SplitSeq(h, ",") {
			name, params, _ := strings.Cut(coding, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if (name == "gzip" || name == "*") && positive(params) {
				return true
			}
		}
	}
	return false
}

// positive reports whether the parameters of a media range or a content coding leave it a
// weight above 0: no q, or q above 0.
func positive(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		if q, found := strings.CutPrefix(strings.ToLower(strings.TrimSpace(p)), "q="); found {
			weight, err := strconv.ParseFloat(q, 64)
			return err == nil && weight > 0
		}
	}
	return true
}

// compress returns body compressed with gzip.
func compress(body []byte) []byte {
	out := bytes.NewBuffer(make([]byte, 0, len(body)/4))
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(out)
	zw.Write(body) // writes to memory: no error
	zw.Close()
	return out.Bytes()
}
