package report

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// page is the statistics page: one file with its own script and style inline, which loads
// nothing but the files of assets and the API. {{title}} in it stands for the handler's title.
//
//go:embed page.html
var page []byte

// assets are the files the page loads from its own origin under assetPrefix: uPlot, the
// charting library, vendored by scripts/update-uplot.sh (assets/uplot/VERSION).
//
//go:embed assets/uplot/uPlot.iife.min.js assets/uplot/uPlot.min.css
var assets embed.FS

// assetPrefix is the path under which the assets are served.
const assetPrefix = "/assets/"

// defaultTitle is the page's title when the handler is given none.
const defaultTitle = "Mailu"

// pagePolicy is the Content-Security-Policy of the page. It allows the page's own inline
// script and style by their hashes and the assets of its own origin, and nothing else but
// requests to its own origin: no other script, style, font, frame or site, no inline event
// handlers, no form posts.
var pagePolicy = policy(page)

// policy returns the Content-Security-Policy that lets html run its one inline script and
// style and the assets, and load nothing from anywhere else. It panics when html does not
// hold exactly one of each: the page is compiled in, so that is a build error that the tests
// catch.
func policy(html []byte) string {
	return "default-src 'none'; connect-src 'self'; img-src 'self' data:; " +
		"script-src 'self' '" + inlineHash(html, "script") + "'; style-src 'self' '" + inlineHash(html, "style") + "'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// inlineHash is the CSP source of the content of html's one plain <tag> element, opened by
// "<tag>" with no attribute (a <script src> is not inline) and ended by the first </tag>
// after it, as a browser reads it: its SHA-256, in base64.
func inlineHash(html []byte, tag string) string {
	open, end := []byte("<"+tag+">"), []byte("</"+tag+">")
	_, rest, _ := bytes.Cut(html, open)
	content, _, closed := bytes.Cut(rest, end)
	if bytes.Count(html, open) != 1 || !closed {
		panic(fmt.Sprintf("report: the page must have exactly one plain <%s> element", tag))
	}
	sum := sha256.Sum256(content)
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// renderPage is the page with title, escaped, in place of {{title}}; defaultTitle if empty.
// The placeholder is outside the inline script and style, so their hashes stay.
func renderPage(title string) []byte {
	if title == "" {
		title = defaultTitle
	}
	return bytes.ReplaceAll(page, []byte("{{title}}"), []byte(html.EscapeString(title)))
}

// servePage writes the page.
func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", htmlType)
	hdr.Set("Cache-Control", cachePage)
	hdr.Set("Content-Security-Policy", pagePolicy)
	hdr.Set("Referrer-Policy", "no-referrer")
	writeBody(w, r, http.StatusOK, h.page)
}

// isAsset reports whether path names one of the assets.
func isAsset(path string) bool {
	name, ok := strings.CutPrefix(path, assetPrefix)
	if !ok {
		return false
	}
	_, err := fs.Stat(assets, "assets/"+name)
	return err == nil && !strings.HasSuffix(name, "/")
}

// serveAsset writes one of the assets, which change only with a new build.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	name := "assets/" + strings.TrimPrefix(r.URL.Path, assetPrefix)
	body, err := assets.ReadFile(name)
	if err != nil { // isAsset found it
		writeError(w, r, http.StatusNotFound, "not found")
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
	hdr.Set("Cache-Control", cachePage)
	hdr.Set("Content-Security-Policy", apiPolicy)
	writeBody(w, r, http.StatusOK, body)
}
