// Command orderflow serves the orderflow GraphQL API; see README.md.
package main

import (
	"os"

	"orderflow/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:], os.Stdout, os.Stderr))
}
