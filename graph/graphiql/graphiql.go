// Package graphiql serves GraphiQL, the in-browser GraphQL IDE, entirely from
// the binary: the page and every file it loads are embedded, so it works on a
// machine without internet. The files in assets/ are npm's builds, vendored
// by vendor.sh at the versions pinned in package-lock.json; building
// orderflow does not need npm.
package graphiql

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
)

// AssetsPath is where Handler serves the page's files. The page refers to
// them relative to itself, so it must be served from the directory that
// holds AssetsPath ("/" for the default).
const AssetsPath = "/graphiql/"

//go:embed assets
var assets embed.FS

//go:embed page.html
var pageHTML string

// favicon is orderflow's icon for the GraphiQL tab. It is ours, beside the
// page, not among the vendored files (vendor.sh --check keeps assets/ as
// npm gives it): the page links it from IconPath.
//
//go:embed favicon.svg
var favicon []byte

// IconPath is where Handler serves the page's icon, under AssetsPath.
const IconPath = AssetsPath + "favicon.svg"

var page = template.Must(template.New("graphiql").Parse(pageHTML))

// Handler serves the GraphiQL page at "/", querying endpoint (a path, taken
// relative to the page's own address, or an absolute URL), and its files and
// its icon (IconPath) under AssetsPath. Mount it for both: GET /{$} and GET AssetsPath. The
// editor opens on firstQuery (GraphiQL's welcome text when empty) until the
// browser has a query of its own to show: GraphiQL keeps the last one.
func Handler(title, endpoint, firstQuery string) http.Handler {
	files, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // The directory is embedded: it is there.
	}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", pageHandler(title, endpoint, firstQuery))
	mux.Handle("GET "+AssetsPath, http.StripPrefix(AssetsPath, withETags(files, http.FileServerFS(files))))
	mux.HandleFunc("GET "+IconPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Cache-Control", "max-age=86400")
		w.Write(favicon)
	})
	return mux
}

func pageHandler(title, endpoint, firstQuery string) http.Handler {
	var b strings.Builder
	err := page.Execute(&b, struct{ Title, Endpoint, FirstQuery, Assets, Icon string }{
		title, endpoint, firstQuery, strings.TrimPrefix(AssetsPath, "/"), strings.TrimPrefix(IconPath, "/")})
	if err != nil {
		panic(err) // The template and its data are fixed: a failure is a bug here.
	}
	html := b.String()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		fmt.Fprint(w, html)
	})
}

// withETags gives every embedded file an ETag from its content, so that a
// browser revalidates the megabyte of GraphiQL with a 304 instead of fetching
// it again (embedded files have no modification time to go by).
func withETags(files fs.FS, next http.Handler) http.Handler {
	tags := map[string]string{}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		content, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(content)
		tags[name] = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
		return nil
	})
	if err != nil {
		panic(err) // Reading embedded files cannot fail.
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tag, ok := tags[strings.TrimPrefix(r.URL.Path, "/")]; ok {
			w.Header().Set("ETag", tag)
			w.Header().Set("Cache-Control", "no-cache")
		}
		next.ServeHTTP(w, r)
	})
}
