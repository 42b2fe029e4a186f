package access_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"orderflow/graph/access"
)

const secret = "0123456789abcdef0123456789abcdef" // 32 bytes

var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func verifier(t *testing.T) *access.Verifier {
	t.Helper()
	v, err := access.NewVerifier([]byte(secret), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestIssuedTokenVerifies(t *testing.T) {
	tok, err := access.Issue([]byte(secret), ada, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	c, exp, err := verifier(t).Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c != ada {
		t.Errorf("caller = %+v, want %+v", c, ada)
	}
	if !exp.Equal(now.Add(time.Hour)) {
		t.Errorf("expires %v, want %v", exp, now.Add(time.Hour))
	}
}

// sign makes a token with any claims and method, as an attacker or a
// careless issuer could.
func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerifyRefuses(t *testing.T) {
	valid := jwt.MapClaims{"sub": "ada", "role": "customer", "exp": now.Add(time.Hour).Unix()}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for key, val := range valid {
			c[key] = val
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	good := sign(t, jwt.SigningMethodHS256, []byte(secret), valid)
	parts := strings.Split(good, ".")
	tests := []struct {
		name, token, reason string
	}{
		{"expired", sign(t, jwt.SigningMethodHS256, []byte(secret), with("exp", now.Add(-time.Second).Unix())), "expired"},
		{"no exp", sign(t, jwt.SigningMethodHS256, []byte(secret), with("exp", nil)), "exp"},
		{"no sub", sign(t, jwt.SigningMethodHS256, []byte(secret), with("sub", nil)), "sub"},
		{"no role", sign(t, jwt.SigningMethodHS256, []byte(secret), with("role", nil)), "role"},
		{"unknown role", sign(t, jwt.SigningMethodHS256, []byte(secret), with("role", "root")), "role"},
		{"another secret", sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), valid), "signature"},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid), "signing method"},
		{"HS512", sign(t, jwt.SigningMethodHS512, []byte(secret), valid), "signing method"},
		// ada's signature on a payload that makes her admin.
		{"payload changed", parts[0] + "." + strings.Split(sign(t, jwt.SigningMethodHS256, []byte(secret), with("role", "admin")), ".")[1] + "." + parts[2], "signature"},
		{"not a token", "hello", "malformed"},
		{"empty", "", "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := verifier(t).Verify(tt.token)
			if outcomeOf(err) != unauthenticated {
				t.Fatalf("Verify = %+v, %v; want UNAUTHENTICATED", c, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
		})
	}
	if _, _, err := verifier(t).Verify(good); err != nil {
		t.Errorf("the valid token the cases derive from: %v", err)
	}
}

func TestSecretAndClaimsChecked(t *testing.T) {
	if _, err := access.NewVerifier([]byte("short"), time.Now); err == nil {
		t.Error("NewVerifier accepted a 5-byte secret")
	}
	if _, err := access.Issue([]byte("short"), ada, time.Hour, now); err == nil {
		t.Error("Issue accepted a 5-byte secret")
	}
	for _, c := range []access.Caller{{Role: access.RoleCustomer}, {Subject: "ada", Role: "owner"}} {
		if _, err := access.Issue([]byte(secret), c, time.Hour, now); err == nil {
			t.Errorf("Issue accepted %+v", c)
		}
	}
	if _, err := access.Issue([]byte(secret), ada, 0, now); err == nil {
		t.Error("Issue accepted a zero lifetime")
	}
}

// The Authorization header, as the HTTP handler reads it.
func TestAuthenticate(t *testing.T) {
	tok, err := access.Issue([]byte(secret), ada, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		v      *access.Verifier
		header string
		want   access.Caller
		reason string // of the refusal, when want is zero
	}{
		{"bearer token", verifier(t), "Bearer " + tok, ada, ""},
		{"scheme in any case", verifier(t), "bearer " + tok, ada, ""},
		{"no header", verifier(t), "", access.Caller{}, "Authorization"},
		{"another scheme", verifier(t), "Basic " + tok, access.Caller{}, "Bearer"},
		{"bare token", verifier(t), tok, access.Caller{}, "Bearer"},
		{"bad token", verifier(t), "Bearer " + tok + "x", access.Caller{}, "signature"},
		{"access control off", nil, "", access.Open(), ""},
		{"access control off ignores tokens", nil, "Bearer nonsense", access.Open(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got access.Caller
			var gotErr error
			var exp time.Time
			h := access.Authenticate(tt.v, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, gotErr = access.CallerFrom(r.Context())
				exp = access.Expires(r.Context())
			}))
			req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if got != tt.want {
				t.Errorf("caller = %+v, want %+v", got, tt.want)
			}
			if tt.reason != "" && (outcomeOf(gotErr) != unauthenticated || !strings.Contains(gotErr.Error(), tt.reason)) {
				t.Errorf("refusal = %v, want UNAUTHENTICATED saying %q", gotErr, tt.reason)
			}
			if tt.reason == "" && gotErr != nil {
				t.Errorf("refused: %v", gotErr)
			}
			if want := tt.want == ada; !exp.IsZero() != want {
				t.Errorf("expires = %v; a token's expiry is kept, and only a token's", exp)
			}
		})
	}
}
