package graphiql

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string, header http.Header) *http.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func TestPagePresetsTheEndpoint(t *testing.T) {
	for _, tc := range []struct{ endpoint, literal string }{
		{"/graphql", `new URL("/graphql", location.href)`},
		{"/api/v1/graphql", `new URL("/api/v1/graphql", location.href)`},
		{"https://api.example.com/graphql", `new URL("https://api.example.com/graphql", location.href)`},
	} {
		resp := get(t, Handler("orderflow", tc.endpoint, ""), "/", nil)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("%s: GET / = %d %q", tc.endpoint, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if !strings.Contains(string(body), tc.literal) {
			t.Errorf("%s: the page does not resolve the endpoint with %s", tc.endpoint, tc.literal)
		}
		if !strings.Contains(string(body), "subscriptionUrl: subscriptionUrl.href") {
			t.Errorf("%s: the page does not give GraphiQL a subscription URL", tc.endpoint)
		}
	}
}

// The page is the only thing at the root: anything else there is somebody
// else's 404, not a second copy of GraphiQL.
func TestOnlyThePageAndItsFilesAreServed(t *testing.T) {
	h := Handler("orderflow", "/graphql", "")
	for path, want := range map[string]int{
		"/": http.StatusOK,
		AssetsPath + "react/react.production.min.js": http.StatusOK,
		AssetsPath + "react/nothing.js":              http.StatusNotFound,
		IconPath:                                     http.StatusOK,
		"/elsewhere":                                 http.StatusNotFound,
	} {
		if got := get(t, h, path, nil).StatusCode; got != want {
			t.Errorf("GET %s = %d, want %d", path, got, want)
		}
	}
}

// A browser that has the files revalidates them and gets a 304, not the
// megabyte again.
func TestFilesRevalidateByETag(t *testing.T) {
	h := Handler("orderflow", "/graphql", "")
	path := AssetsPath + "graphiql/graphiql.min.js"
	first := get(t, h, path, nil)
	tag := first.Header.Get("ETag")
	if first.StatusCode != http.StatusOK || tag == "" {
		t.Fatalf("GET %s = %d with ETag %q, want 200 with an ETag", path, first.StatusCode, tag)
	}
	if again := get(t, h, path, http.Header{"If-None-Match": {tag}}); again.StatusCode != http.StatusNotModified {
		t.Errorf("GET %s with If-None-Match = %d, want 304", path, again.StatusCode)
	}
	other := get(t, h, AssetsPath+"react/react.production.min.js", nil).Header.Get("ETag")
	if other == tag {
		t.Errorf("two different files share the ETag %s", tag)
	}
}

// Each vendored package keeps its license beside its files, and the licenses
// of what graphiql's bundle carries are there too.
func TestVendoredPackagesKeepTheirLicenses(t *testing.T) {
	dirs, err := fs.ReadDir(assets, "assets")
	if err != nil {
		t.Fatal(err)
	}
	packages := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		packages++
		if _, err := fs.Stat(assets, "assets/"+d.Name()+"/LICENSE"); err != nil {
			t.Errorf("vendored package %s has no LICENSE: %v", d.Name(), err)
		}
	}
	if packages != 3 {
		t.Errorf("%d vendored packages, want graphiql, react and react-dom", packages)
	}
	third, err := fs.ReadFile(assets, "assets/THIRD_PARTY_LICENSES")
	if err != nil || !strings.Contains(string(third), "==== graphql@") {
		t.Errorf("THIRD_PARTY_LICENSES missing or without graphql's license (err %v)", err)
	}
}
