package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

const (
	// requestTimeout bounds every request, so a stuck server cannot hold a
	// client, the seed or the drain forever.
	requestTimeout = 10 * time.Second
	// maxResponseBytes bounds what is read of one answer; the largest one,
	// a drain batch of orders, is a few tens of kilobytes.
	maxResponseBytes = 8 << 20
)

// client sends GraphQL requests to the one target it was made for. All
// requests of a run share its connection pool.
type client struct {
	url           string
	authorization string // the Authorization header, empty for an open server
	http          *http.Client
}

// newClient makes a client keeping up to conns idle connections, so every
// concurrent caller can reuse its own connection instead of dialling anew.
// A token, when given, goes with every request.
func newClient(target, token string, conns int) *client {
	transport := &http.Transport{
		Proxy:               nil, // talk to the target itself, never to a proxy from the environment
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
	}
	var authorization string
	if token != "" {
		authorization = "Bearer " + token
	}
	return &client{url: target, authorization: authorization, http: &http.Client{
		Transport: transport,
		Timeout:   requestTimeout,
		// A redirect would lead away from the target: report it instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (c *client) close() { c.http.CloseIdleConnections() }

// requestError is a request that did not succeed. kind sorts failures for
// the summary: the GraphQL error code (extensions.code, e.g. TIMEOUT),
// "HTTP <status>", "transport" or "bad response".
type requestError struct {
	kind string
	msg  string
}

func (e *requestError) Error() string { return e.kind + ": " + e.msg }

// do posts one query with its variables and decodes data into out (when
// out is not nil). Any GraphQL error fails the whole request.
func (c *client) do(ctx context.Context, query string, variables any, out any) error {
	body, err := json.Marshal(struct {
		Query     string `json:"query"`
		Variables any    `json:"variables,omitempty"`
	}{query, variables})
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.authorization != "" {
		req.Header.Set("Authorization", c.authorization)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &requestError{kind: "transport", msg: err.Error()}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return &requestError{kind: "transport", msg: "read response: " + err.Error()}
	}

	var answer struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	decodeErr := json.Unmarshal(raw, &answer)
	// GraphQL errors come first: gqlgen answers some of them (a query it
	// cannot parse or validate) with a 4xx status.
	if decodeErr == nil && len(answer.Errors) > 0 {
		e := answer.Errors[0]
		kind := e.Extensions.Code
		if kind == "" {
			kind = "GRAPHQL"
		}
		return &requestError{kind: kind, msg: e.Message}
	}
	if resp.StatusCode != http.StatusOK {
		return &requestError{kind: fmt.Sprintf("HTTP %d", resp.StatusCode), msg: snippet(raw)}
	}
	if decodeErr != nil {
		return &requestError{kind: "bad response", msg: fmt.Sprintf("%v: %s", decodeErr, snippet(raw))}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(answer.Data, out); err != nil {
		return &requestError{kind: "bad response", msg: fmt.Sprintf("decode data: %v", err)}
	}
	return nil
}

// snippet is the start of a body, on one line, for an error message.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
