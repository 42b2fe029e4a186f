package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestTokenNeedsASecret: orderflow token without --secret and without
// ORDERFLOW_AUTH_SECRET says the secret is missing and how to give it,
// exit 2; with the variable set it prints a token.
func TestTokenNeedsASecret(t *testing.T) {
	bin := needBinary(t)
	t.Setenv("ORDERFLOW_AUTH_SECRET", "")
	res := runBinary(t, bin, 20*time.Second, "token", "--sub", "ada")
	want := "orderflow token: no secret to sign the token with: pass the server's --auth-secret as --secret S " +
		"(or set ORDERFLOW_AUTH_SECRET, as for the server)\nRun \"orderflow token -h\" for the flags.\n"
	if res.code != 2 || res.stdout != "" || res.stderr != want {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 2, nothing, %q", res.code, res.stdout, res.stderr, want)
	}

	t.Setenv("ORDERFLOW_AUTH_SECRET", strings.Repeat("s", 32))
	res = runBinary(t, bin, 20*time.Second, "token", "--sub", "ada")
	if res.code != 0 || strings.Count(res.stdout, ".") != 2 {
		t.Fatalf("with ORDERFLOW_AUTH_SECRET: exit %d, stdout %q, stderr %q; want 0 and a JWT", res.code, res.stdout, res.stderr)
	}
}
