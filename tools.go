//go:build tools

// This file pins the code generators in go.mod, so that
// `go run github.com/99designs/gqlgen generate` is reproducible.
package main

import (
	_ "github.com/99designs/gqlgen"
	_ "github.com/99designs/gqlgen/graphql/introspection"
)
