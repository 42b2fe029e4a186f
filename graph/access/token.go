package access

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MinSecretBytes is the shortest secret accepted: HS256 wants a key at
// least as long as its 256-bit hash (RFC 7518, 3.2); a short one can be
// guessed offline from any token.
const MinSecretBytes = 32

// claims is the token's payload: sub, role and exp, all required.
type claims struct {
	Role Role `json:"role"`
	jwt.RegisteredClaims
}

// Issue signs a token for c, valid for ttl from now (HS256).
func Issue(secret []byte, c Caller, ttl time.Duration, now time.Time) (string, error) {
	if err := checkSecret(secret); err != nil {
		return "", err
	}
	if err := checkCaller(c); err != nil {
		return "", err
	}
	if ttl <= 0 {
		return "", errors.New("the token's lifetime must be positive")
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		Role: c.Role,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   c.Subject,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	})
	return tok.SignedString(secret)
}

// Verifier checks tokens signed with one secret.
type Verifier struct {
	secret []byte
	now    func() time.Time
}

// NewVerifier returns a verifier of tokens signed with secret; now is the
// clock expiry is judged by (time.Now in production).
func NewVerifier(secret []byte, now func() time.Time) (*Verifier, error) {
	if err := checkSecret(secret); err != nil {
		return nil, err
	}
	return &Verifier{secret: secret, now: now}, nil
}

// Verify returns the caller a token names and when it expires, or an
// *UnauthenticatedError: a token that is malformed, signed with another
// algorithm (alg none, RS256 with the secret as a public key…) or another
// secret, expired, or without sub, a known role and exp.
func (v *Verifier) Verify(token string) (Caller, time.Time, error) {
	var cl claims
	_, err := jwt.ParseWithClaims(token, &cl, func(*jwt.Token) (any, error) { return v.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(v.now),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Caller{}, time.Time{}, &UnauthenticatedError{Reason: "the token has expired"}
	case err != nil:
		return Caller{}, time.Time{}, &UnauthenticatedError{Reason: "the token is not valid: " + err.Error()}
	}
	c := Caller{Subject: cl.Subject, Role: cl.Role}
	if err := checkCaller(c); err != nil {
		return Caller{}, time.Time{}, &UnauthenticatedError{Reason: "the token is not valid: " + err.Error()}
	}
	return c, cl.ExpiresAt.Time, nil
}

// Authenticate tells the request's context who is calling, from the
// Authorization header (Bearer <token>). With no verifier (access control
// off) every request is Open(). A missing or bad token is not refused
// here: each operation then answers UNAUTHENTICATED with the reason.
func Authenticate(v *Verifier, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if h := r.Header.Get("Authorization"); h != "" || v == nil {
			ctx = v.Context(ctx, h)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Context returns ctx with the caller an authorization value ("Bearer
// <token>") names, or with the reason it names none. A nil verifier
// (access control off) gives Open().
func (v *Verifier) Context(ctx context.Context, authorization string) context.Context {
	if v == nil {
		return WithCaller(ctx, Open())
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return WithRefusal(ctx, &UnauthenticatedError{Reason: "the Authorization value must be Bearer <token>"})
	}
	c, exp, err := v.Verify(strings.TrimSpace(token))
	if err != nil {
		return WithRefusal(ctx, err)
	}
	return withToken(ctx, c, exp)
}

func checkSecret(secret []byte) error {
	if len(secret) < MinSecretBytes {
		return fmt.Errorf("the auth secret must be at least %d bytes (try: openssl rand -hex 32)", MinSecretBytes)
	}
	return nil
}

func checkCaller(c Caller) error {
	switch {
	case c.Subject == "":
		return errors.New("sub must not be empty")
	case c.Role != RoleCustomer && c.Role != RoleAdmin:
		return fmt.Errorf("role must be %q or %q, got %q", RoleCustomer, RoleAdmin, c.Role)
	}
	return nil
}
