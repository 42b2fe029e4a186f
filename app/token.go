package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"orderflow/app/flags"
	"orderflow/graph/access"
)

// What token says when a flag it needs is missing, rather than the check
// of an empty secret's length or an empty subject.
var (
	errMissingSecret = errors.New("no secret to sign the token with: pass the server's --auth-secret as --secret S " +
		"(or set ORDERFLOW_AUTH_SECRET, as for the server)")
	errMissingSubject = errors.New("say who the token is for: --sub ID (a customer's id; for an admin, any name)")
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
	err := flags.ParseArgs(fs, args)
	switch {
	case err != nil:
	case *secret == "":
		err = errMissingSecret
	case *sub == "":
		err = errMissingSubject
	}
	var tok string
	if err == nil {
		tok, err = access.Issue([]byte(*secret), access.Caller{Subject: *sub, Role: access.Role(*role)}, *ttl, now)
	}
	if err != nil {
		return flags.Exit("orderflow token", err, stdout, stderr)
	}
	fmt.Fprintln(stdout, tok)
	return 0
}
