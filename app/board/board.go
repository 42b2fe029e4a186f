// Package board is the live order board, the shop's console: a small page
// (plain HTML, CSS and JavaScript embedded in the binary, nothing loaded
// from elsewhere) that shows orders by status as they change, over the
// orderUpdated subscription of the GraphQL API, with pay, ship and cancel
// on each open order's card (the server's refusal shown on the card), the
// stock of the products on screen, the lag of each projection, charts of
// the stats query (orders placed and settled per second, each projection's
// and reaction's lag), and a form to place an order. It is a client of the
// API like any other: everything it shows and does goes through /graphql.
package board

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Path is where the board is served. The page refers to its files under
// it by absolute paths, so that it works at Path itself as well as at
// Path + "/": a newcomer types /board, and a redirect to /board/ would be
// one more thing to explain.
const Path = "/board"

// Handler serves the board: the page at Path and Path + "/", its script,
// style and icon under Path + "/". Mount it for both: GET Path and
// GET Path + "/".
func Handler() http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		// The directory is embedded at build time: it is always there.
		panic(err)
	}
	return http.StripPrefix(Path, http.FileServerFS(files))
}
