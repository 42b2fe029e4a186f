package graph

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestRequestErrorsOverHTTP drives the real handler with requests refused
// before execution, and checks the status and body the GraphQL over HTTP
// spec asks for each accepted media type, and that the error keeps its code.
// None of these requests reaches a resolver, so an empty Resolver serves.
func TestRequestErrorsOverHTTP(t *testing.T) {
	limits := Limits{
		MaxBodyBytes:         1 << 20,
		MaxComplexity:        1000,
		MaxAliases:           1,
		MaxMutations:         1,
		QueryCacheBytes:      1 << 20,
		WebsocketInitTimeout: time.Second,
		Introspection:        true,
	}
	h := NewHandler(&Resolver{}, slog.New(slog.NewTextHandler(io.Discard, nil)), limits, nil)

	const (
		appJSON  = "application/json"
		response = "application/graphql-response+json"
	)
	parse := map[string]any{"query": "{"}
	validation := map[string]any{"query": "{ noSuchField }"}
	coercion := map[string]any{"query": "query Q($id: ID!) { order(id: $id) { id } }", "variables": map[string]any{"id": nil}}
	aliases := map[string]any{"query": "{ a: __typename b: __typename }"}
	noQuery := map[string]any{"qeury": "{ __typename }"}
	ok := map[string]any{"query": "{ __typename }"}

	for _, tc := range []struct {
		name     string
		method   string
		params   map[string]any
		accept   string
		status   int
		code     string // the error's extensions.code; "" for a success
		wantType string
	}{
		{"parse, json", http.MethodPost, parse, appJSON, 200, "GRAPHQL_PARSE_FAILED", appJSON},
		{"parse, graphql-response", http.MethodPost, parse, response, 400, "GRAPHQL_PARSE_FAILED", response},
		{"validation, json", http.MethodPost, validation, appJSON, 200, "GRAPHQL_VALIDATION_FAILED", appJSON},
		{"validation, graphql-response", http.MethodPost, validation, response, 400, "GRAPHQL_VALIDATION_FAILED", response},
		{"variable coercion, json", http.MethodPost, coercion, appJSON, 200, "GRAPHQL_VALIDATION_FAILED", appJSON},
		{"variable coercion, graphql-response", http.MethodPost, coercion, response, 400, "GRAPHQL_VALIDATION_FAILED", response},
		{"too many aliases, json", http.MethodPost, aliases, appJSON, 200, CodeLimitExceeded, appJSON},
		{"too many aliases, graphql-response", http.MethodPost, aliases, response, 400, CodeLimitExceeded, response},
		{"no query, json", http.MethodPost, noQuery, appJSON, 400, "GRAPHQL_VALIDATION_FAILED", appJSON},
		{"no query, no accept", http.MethodPost, noQuery, "", 400, "GRAPHQL_VALIDATION_FAILED", appJSON},
		{"no query, graphql-response", http.MethodPost, noQuery, response, 400, "GRAPHQL_VALIDATION_FAILED", response},
		{"GET parse, json", http.MethodGet, parse, appJSON, 200, "GRAPHQL_PARSE_FAILED", appJSON},
		{"GET parse, graphql-response", http.MethodGet, parse, response, 400, "GRAPHQL_PARSE_FAILED", response},
		{"GET no query", http.MethodGet, noQuery, appJSON, 400, "GRAPHQL_VALIDATION_FAILED", appJSON},
		{"success, json", http.MethodPost, ok, appJSON, 200, "", appJSON},
		{"success, graphql-response", http.MethodPost, ok, response, 200, "", response},
		{"GET success", http.MethodGet, ok, appJSON, 200, "", appJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := newRequest(t, tc.method, tc.params)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Code != tc.status {
				t.Errorf("HTTP %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, tc.wantType) {
				t.Errorf("Content-Type %q, want %q", got, tc.wantType)
			}
			var body map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("the answer is not a JSON object: %v: %s", err, rec.Body)
			}
			if tc.code == "" {
				if _, has := body["errors"]; has || string(body["data"]) != `{"__typename":"Query"}` {
					t.Errorf("want data and no errors: %s", rec.Body)
				}
				return
			}
			// Nothing ran: the answer has errors and no data entry at all.
			if _, has := body["data"]; has {
				t.Errorf("a request error has a data entry: %s", rec.Body)
			}
			var errs []struct {
				Extensions struct {
					Code string `json:"code"`
				} `json:"extensions"`
			}
			if err := json.Unmarshal(body["errors"], &errs); err != nil || len(errs) == 0 || errs[0].Extensions.Code != tc.code {
				t.Errorf("want an error with code %s: %s", tc.code, rec.Body)
			}
		})
	}
}

// TestRefusedBodyHasNoData: a body refused before gqlgen sees it (not JSON)
// is answered 400 without a data entry, like gqlgen's request errors.
func TestRefusedBodyHasNoData(t *testing.T) {
	present := ErrorPresenter(slog.New(slog.NewTextHandler(io.Discard, nil)))
	never := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("the refused body reached gqlgen") })
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query": `))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	limitRequest(never, 1<<20, present).ServeHTTP(rec, req)
	var body map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("the answer is not a JSON object: %v: %s", err, rec.Body)
	}
	if _, has := body["data"]; rec.Code != http.StatusBadRequest || has || body["errors"] == nil {
		t.Errorf("HTTP %d %s, want 400 with errors and no data entry", rec.Code, rec.Body)
	}
}

// newRequest is a GraphQL request with params, as a JSON body (POST) or in
// the URL (GET).
func newRequest(t *testing.T, method string, params map[string]any) *http.Request {
	t.Helper()
	if method == http.MethodGet {
		q := url.Values{}
		for k, v := range params {
			q.Set(k, v.(string))
		}
		return httptest.NewRequest(method, "/graphql?"+q.Encode(), nil)
	}
	b, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(method, "/graphql", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	return req
}

func TestWithoutDataKeepsEverythingElse(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"errors":[{"message":"x"}],"data":null}`, `{"errors":[{"message":"x"}]}`},
		{`{"data":null,"errors":[],"extensions":{"k":1}}`, `{"errors":[],"extensions":{"k":1}}`},
		{`{"errors":[{"message":"x"}]}`, `{"errors":[{"message":"x"}]}`},
		{`not json`, `not json`},
	} {
		if got := string(withoutData([]byte(tc.in))); got != tc.want {
			t.Errorf("withoutData(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
