package app

import (
	"flag"
	"fmt"
	"io"
	"time"

	"orderflow/app/flags"
	"orderflow/graph/access"
)

// token is `orderflow token --secret S --role customer --sub ada --ttl 24h`:
// it prints a token a server started with the same --auth-secret accepts.
// The secret falls back to ORDERFLOW_AUTH_SECRET, as the server's does.
func token(args []string, getenv func(string) string, now time.Time, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("orderflow token", flag.ContinueOnError)
	secret := fs.String("secret", envOr(getenv, "AUTH_SECRET", ""), "the server's --auth-secret (env ORDERFLOW_AUTH_SECRET)")
	role := fs.String("role", string(access.RoleCustomer), "customer or admin")
	sub := fs.String("sub", "", "who the token is for: a customer's id (required)")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	if err := flags.ParseArgs(fs, args); err != nil {
		return flags.Exit("orderflow token", err, stdout, stderr)
	}
	tok, err := access.Issue([]byte(*secret), access.Caller{Subject: *sub, Role: access.Role(*role)}, *ttl, now)
	if err != nil {
		fmt.Fprintln(stderr, "orderflow token:", err)
		return 2
	}
	fmt.Fprintln(stdout, tok)
	return 0
}
