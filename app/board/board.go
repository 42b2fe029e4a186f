// Package board is the live order board: a small page (plain HTML, CSS and
// JavaScript embedded in the binary, nothing loaded from elsewhere) that
// shows orders by status as they change, over the orderUpdated subscription
// of the GraphQL API, the stock of the products on screen, the lag of each
// projection, and a form to place an order. It is a client of the API
// like any other: everything it shows and does goes through /graphql.
package board

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the board's files: the page at "/" of what it is mounted
// on, its script and style beside it. Mount it with http.StripPrefix.
func Handler() http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		// The directory is embedded at build time: it is always there.
		panic(err)
	}
	return http.FileServerFS(files)
}
