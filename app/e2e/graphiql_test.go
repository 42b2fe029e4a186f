package e2e

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// TestGraphiQLLoadsNothingFromElsewhere fetches the GraphiQL page of the real
// app and every file it references (scripts, stylesheets, images, and the
// url()s inside the stylesheets), and requires each to come from the app
// itself: same origin, 200, and the content type its kind needs. A page that
// loaded a script from a CDN would be blank on a machine without internet.
func TestGraphiQLLoadsNothingFromElsewhere(t *testing.T) {
	c := startApp(t)
	page, err := url.Parse(c.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body := fetchAsset(t, c, page, "text/html")
	refs := pageReferences(t, body)

	kinds := map[string]int{}
	for _, ref := range refs {
		kinds[ref.kind]++
		u := sameOrigin(t, page, ref.url)
		switch ref.kind {
		case "script":
			fetchAsset(t, c, u, "text/javascript")
		case "stylesheet":
			css := fetchAsset(t, c, u, "text/css")
			for _, inner := range cssURLs(t, css) {
				if strings.HasPrefix(inner, "data:") {
					continue
				}
				fetchAsset(t, c, sameOrigin(t, u, inner), "")
			}
		case "image":
			fetchAsset(t, c, u, "image/")
		default:
			fetchAsset(t, c, u, "")
		}
	}
	// GraphiQL's standalone build needs React, ReactDOM, itself and its
	// stylesheet: a page referencing fewer cannot be the working one.
	if kinds["script"] < 3 || kinds["stylesheet"] < 1 {
		t.Errorf("the page references %v, want at least 3 scripts and a stylesheet", kinds)
	}
}

type pageRef struct{ kind, url string }

// pageReferences lists what a browser loads when it renders the page: the src
// of scripts, images, iframes and the like, the href of <link>s (stylesheets,
// icons, preloads), and the srcset candidates of images.
func pageReferences(t *testing.T, page []byte) []pageRef {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(string(page)))
	if err != nil {
		t.Fatalf("parsing the page: %v", err)
	}
	var refs []pageRef
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				switch {
				case a.Key == "src" && n.Data == "script":
					refs = append(refs, pageRef{"script", a.Val})
				case a.Key == "src" && n.Data == "img":
					refs = append(refs, pageRef{"image", a.Val})
				case a.Key == "src" || a.Key == "poster" || (a.Key == "data" && n.Data == "object"):
					refs = append(refs, pageRef{n.Data, a.Val})
				case a.Key == "srcset":
					for _, candidate := range strings.Split(a.Val, ",") {
						if f := strings.Fields(candidate); len(f) > 0 {
							refs = append(refs, pageRef{"image", f[0]})
						}
					}
				case a.Key == "href" && n.Data == "link":
					kind := "link"
					if strings.EqualFold(attr(n, "rel"), "stylesheet") {
						kind = "stylesheet"
					}
					refs = append(refs, pageRef{kind, a.Val})
				}
			}
			if n.Data == "style" && n.FirstChild != nil {
				for _, u := range cssURLs(t, []byte(n.FirstChild.Data)) {
					if !strings.HasPrefix(u, "data:") {
						refs = append(refs, pageRef{"style url()", u})
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return refs
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

var cssURL = regexp.MustCompile(`url\(\s*['"]?([^'")\s]+)`)

var cssImportString = regexp.MustCompile(`@import\s+['"]`)

// cssURLs lists the url()s of a stylesheet. An @import by a bare string
// would escape it, so a stylesheet with one fails the test.
func cssURLs(t *testing.T, css []byte) []string {
	t.Helper()
	if m := cssImportString.Find(css); m != nil {
		t.Fatalf("a stylesheet imports by string (%q), which this test does not follow", m)
	}
	var urls []string
	for _, m := range cssURL.FindAllSubmatch(css, -1) {
		urls = append(urls, string(m[1]))
	}
	return urls
}

// sameOrigin resolves ref against base and fails unless it stays on base's
// scheme, host and port.
func sameOrigin(t *testing.T, base *url.URL, ref string) *url.URL {
	t.Helper()
	u, err := base.Parse(ref)
	if err != nil {
		t.Fatalf("reference %q: %v", ref, err)
	}
	if u.Scheme != base.Scheme || u.Host != base.Host {
		t.Fatalf("reference %q leaves the server: resolves to %s, want %s://%s", ref, u, base.Scheme, base.Host)
	}
	return u
}

// fetchAsset GETs u and requires 200, a non-empty body and, unless want is
// empty, a content type that starts with want.
func fetchAsset(t *testing.T, c *client, u *url.URL, want string) []byte {
	t.Helper()
	resp, err := c.http.Get(u.String())
	if err != nil {
		t.Fatalf("GET %s: %v", u.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d, want 200", u.Path, resp.StatusCode)
	}
	if len(body) == 0 {
		t.Fatalf("GET %s: empty body", u.Path)
	}
	ct, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if want != "" && (err != nil || !strings.HasPrefix(ct, want)) {
		t.Fatalf("GET %s: Content-Type %q, want %s", u.Path, resp.Header.Get("Content-Type"), want)
	}
	return body
}
