package e2e

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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
		case "link":
			fetchAsset(t, c, u, "image/svg+xml") // the icon, the page's one other link
		default:
			fetchAsset(t, c, u, "")
		}
	}
	// GraphiQL's standalone build needs React, ReactDOM, itself and its
	// stylesheet: a page referencing fewer cannot be the working one.
	if kinds["script"] < 3 || kinds["stylesheet"] < 1 {
		t.Errorf("the page references %v, want at least 3 scripts and a stylesheet", kinds)
	}
	// A tab with orderflow's icon, and no 404 for /favicon.ico in the console.
	if kinds["link"] != 1 {
		t.Errorf("the page links %d icons, want 1", kinds["link"])
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

var firstQueryRE = regexp.MustCompile(`defaultQuery: ("(?:[^"\\]|\\.)*")`)

// TestGraphiQLOpensOnARunnableQuery: GraphiQL opens on an orderflow query,
// not its generic welcome, and the query runs as it is: over HTTP in an
// empty shop and in one with an order, and in a real chromium from
// GraphiQL's run button, each giving data and no errors.
func TestGraphiQLOpensOnARunnableQuery(t *testing.T) {
	c := startApp(t)
	page, err := url.Parse(c.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	m := firstQueryRE.FindSubmatch(fetchAsset(t, c, page, "text/html"))
	if m == nil {
		t.Fatal("the page gives GraphiQL no defaultQuery")
	}
	var query string
	if err := json.Unmarshal(m[1], &query); err != nil {
		t.Fatalf("the defaultQuery %s is not a string literal: %v", m[1], err)
	}
	if !strings.Contains(query, "orders") || strings.Contains(query, "$") {
		t.Fatalf("the first query lists no orders, or needs variables:\n%s", query)
	}
	type result struct {
		Orders struct {
			Edges []struct{ Node Order }
		}
		Projections []struct{ Name string }
	}
	var empty result
	c.do(t, query, nil, &empty)
	if len(empty.Orders.Edges) != 0 || len(empty.Projections) == 0 {
		t.Fatalf("in an empty shop: %+v, want no orders and the projections", empty)
	}

	c.registerCustomer(t, "c-ide", "Ida", "ida@example.com", "1 Editor Lane")
	c.upsertProduct(t, "p-pen", "Pen", 150)
	c.addStock(t, "p-pen", 5)
	c.placeValidated(t, "o-ide", "c-ide", []Line{{ProductID: "p-pen", Quantity: 2}})
	var one result
	c.do(t, query, nil, &one)
	if len(one.Orders.Edges) != 1 || one.Orders.Edges[0].Node.Status != "VALIDATED" || len(one.Orders.Edges[0].Node.Lines) != 1 {
		t.Fatalf("with one validated order: %+v", one)
	}

	ctx := browser(t)
	// GraphiQL's editors are CodeMirror 5 instances; the result's text is
	// read from the one in the result pane.
	const resultText = `(document.querySelector('.result-window .CodeMirror') || {CodeMirror: {getValue: () => ""}}).CodeMirror.getValue()`
	err = chromedp.Do(ctx,
		chromedp.Navigate(c.base+"/"),
		chromedp.WaitVisible(`.graphiql-execute-button`),
	)
	if err != nil {
		t.Fatalf("opening GraphiQL: %v", err)
	}
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()`))
	if err != nil || shown != query {
		t.Fatalf("the editor shows %q (%v), want the first query", shown, err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`.graphiql-execute-button`)); err != nil {
		t.Fatal(err)
	}
	var text string
	for range 100 {
		if text, err = chromedp.Run(ctx, chromedp.Evaluate[string](resultText)); err != nil {
			t.Fatal(err)
		}
		if text != "" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var ran struct {
		Data   *result
		Errors []any
	}
	if err := json.Unmarshal([]byte(text), &ran); err != nil || ran.Data == nil || len(ran.Errors) > 0 ||
		len(ran.Data.Orders.Edges) != 1 || ran.Data.Orders.Edges[0].Node.ID != "o-ide" {
		t.Fatalf("running it in GraphiQL shows %q (%v), want the order o-ide and no errors", text, err)
	}
}
