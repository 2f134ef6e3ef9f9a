package server

import (
	"embed"
	"mime"
	"net/http"
	"path"
)

// The dashboard is plain HTML, CSS and JavaScript: nothing to build, nothing
// fetched from the internet. It carries no data and no credentials; the
// data comes from the API, with the operator's token when one is set, which
// the person opening the page gives in its fragment.
//
//go:embed web/index.html web/app.js web/style.css
var web embed.FS

//go:embed openapi.json
var openAPI []byte

func serveDashboard(w http.ResponseWriter, r *http.Request) {
	serveFile(w, r, "web/index.html")
}

func serveAsset(w http.ResponseWriter, r *http.Request) {
	serveFile(w, r, path.Join("web", r.PathValue("file")))
}

func serveFile(w http.ResponseWriter, r *http.Request, name string) {
	b, err := web.ReadFile(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
	w.Header().Set("Cache-Control", "no-cache")
	// No other page may frame the dashboard, sniff its files as something
	// else, or learn its address from a Referer.
	w.Header().Set("Content-Security-Policy", "frame-ancestors 'none'")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Write(b)
}

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, openAPI)
}
