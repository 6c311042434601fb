package report

import (
	"bytes"
	"crypto/sha256"
	_ "embed" // the page
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
)

// page is the statistics page: one file with its style and script inline, so that it loads
// nothing but the API.
//
//go:embed page.html
var page []byte

// pagePolicy is the Content-Security-Policy of the page. It allows the page's own inline
// script and style by their hashes, and nothing else but requests to its own origin: no other
// script, style, font, frame or site, no inline event handlers, no form posts.
var pagePolicy = policy(page)

// policy returns the Content-Security-Policy that lets html run its one inline script and
// style and load nothing from anywhere else. It panics when html does not hold exactly one
// of each: the page is compiled in, so that is a build error that the tests catch.
func policy(html []byte) string {
	return "default-src 'none'; connect-src 'self'; img-src 'self' data:; " +
		"script-src '" + inlineHash(html, "script") + "'; style-src '" + inlineHash(html, "style") + "'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// inlineHash is the CSP source of the content of html's one <tag> element: its SHA-256, in
// base64.
func inlineHash(html []byte, tag string) string {
	open, end := []byte("<"+tag+">"), []byte("</"+tag+">")
	if bytes.Count(html, open) != 1 || bytes.Count(html, end) != 1 {
		panic(fmt.Sprintf("report: the page must have exactly one plain <%s> element", tag))
	}
	_, rest, _ := bytes.Cut(html, open)
	content, _, _ := bytes.Cut(rest, end)
	sum := sha256.Sum256(content)
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// servePage writes the page.
func servePage(w http.ResponseWriter, _ *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", htmlType)
	hdr.Set("Cache-Control", cachePage)
	hdr.Set("Content-Security-Policy", pagePolicy)
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(http.StatusOK)
	w.Write(page) // the client may be gone; nothing to do about it
}
