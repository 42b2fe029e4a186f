package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"orderflow/graph/access"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// TestBoardInBrowser opens /board in a real headless chromium, places an
// order from its form and watches the order move on the board without a
// reload: VALIDATED by the asynchronous validations, then PAID after a
// payment made through the API. It saves a screenshot (to
// ORDERFLOW_ARTIFACTS when set).
func TestBoardInBrowser(t *testing.T) {
	c := startApp(t)
	c.registerCustomer(t, "c-board", "Bo Ard", "board@example.com", "1 Screen St")
	c.upsertProduct(t, "p-lamp", "Lamp", 2500)
	c.addStock(t, "p-lamp", 10)
	c.placeValidated(t, "o-earlier", "c-board", []Line{{ProductID: "p-lamp", Quantity: 1}})

	ctx := browser(t)

	card := func(id, status string) string {
		return fmt.Sprintf(`.column[data-status=%s] .card[data-order-id=%q]`, status, id)
	}
	// A marker set on the page: gone if the page were loaded again.
	const marker = `window.boardLoadedOnce`
	err := chromedp.Do(ctx,
		chromedp.Navigate(c.base+"/board"),
		chromedp.WaitVisible(`#conn.up`),
		chromedp.WaitVisible(card("o-earlier", "VALIDATED")),
	)
	if err == nil {
		_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](marker+` = true`))
	}
	if err != nil {
		t.Fatalf("opening the board: %v", err)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(`#place input[name=id]`, "o-board"),
		chromedp.SendKeys(`#place input[name=customerId]`, "c-board"),
		chromedp.SendKeys(`#place input[name=productId]`, "p-lamp"),
		chromedp.SetValue(`#place input[name=quantity]`, "2"),
		chromedp.Click(`#place button`),
		chromedp.WaitVisible(card("o-board", "VALIDATED")),
	)
	if err != nil {
		t.Fatalf("placing from the board: %v", err)
	}
	placed, err := chromedp.Run(ctx, chromedp.Text(`#placed`))
	if err != nil {
		t.Fatal(err)
	}
	if placed != "placed o-board" {
		t.Fatalf("the form says %q, want %q", placed, "placed o-board")
	}

	c.payOrder(t, "o-board", 5000)
	err = chromedp.Do(ctx,
		chromedp.WaitVisible(card("o-board", "PAID")),
		chromedp.WaitVisible(`#stock tr[data-product-id="p-lamp"]`),
		chromedp.WaitVisible(`#projections tr[data-projection="orders"]`),
	)
	if err != nil {
		t.Fatalf("following the payment on the board: %v", err)
	}
	if stillLoaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](marker+` === true`)); err != nil || !stillLoaded {
		t.Fatalf("the page was loaded again (%v): the board must follow without a reload", err)
	}
	// 10 on hand, 1 + 2 reserved for the two validated orders; the stock
	// is polled, so wait for it.
	var stock string
	for range 50 {
		if stock, err = chromedp.Run(ctx, chromedp.Text(`#stock tr[data-product-id="p-lamp"]`)); err != nil {
			t.Fatal(err)
		}
		if stock == "p-lamp\t10\t3\t7" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if stock != "p-lamp\t10\t3\t7" {
		t.Fatalf("stock row %q, want p-lamp 10 on hand, 3 reserved, 7 available", stock)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	saveArtifact(t, "board.png", shot)
}

// TestBoardIsTheShopsConsole drives the board in headless chromium as a
// shop keeper would: an order placed from the form is shipped before it is
// paid (the server refuses, and the card shows its code and message, the
// same as the API answers), then paid and shipped from its card; another
// order is cancelled from its card. Cards show short ids with the whole id
// in their title, and the charts are drawn from the stats query: the orders
// chart gets non-zero rates of orders placed and settled, the lag chart a
// series for each projection and reaction.
func TestBoardIsTheShopsConsole(t *testing.T) {
	c := startApp(t)
	c.registerCustomer(t, "c-console", "Con Sole", "console@example.com", "2 Desk St")
	c.upsertProduct(t, "p-pen", "Pen", 300)
	c.addStock(t, "p-pen", 20)
	const longID = "order-with-a-rather-long-id-0001"
	c.placeValidated(t, longID, "c-console", []Line{{ProductID: "p-pen", Quantity: 1}})

	ctx := browser(t)
	card := func(id, status string) string {
		return fmt.Sprintf(`.column[data-status=%s] .card[data-order-id=%q]`, status, id)
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(c.base+"/board"),
		chromedp.WaitVisible(`#conn.up`),
		chromedp.WaitVisible(card(longID, "VALIDATED")),
	)
	if err != nil {
		t.Fatalf("opening the board: %v", err)
	}
	shown, err := chromedp.Run(ctx, chromedp.Text(card(longID, "VALIDATED")+` .id`))
	if err != nil || shown != "order-wi…" {
		t.Errorf("the card shows the id %q (%v), want its first 8 characters, order-wi…", shown, err)
	}
	title, err := chromedp.Run(ctx, chromedp.AttributeValue(card(longID, "VALIDATED")+` .id`, "title"))
	if err != nil || !title.Exists || title.Value != longID {
		t.Errorf("the card's id has the title %+v (%v), want the whole id %q", title, err, longID)
	}

	err = chromedp.Do(ctx,
		chromedp.SendKeys(`#place input[name=id]`, "o-console"),
		chromedp.SendKeys(`#place input[name=customerId]`, "c-console"),
		chromedp.SendKeys(`#place input[name=productId]`, "p-pen"),
		chromedp.SetValue(`#place input[name=quantity]`, "2"),
		chromedp.Click(`#place button`),
		chromedp.WaitVisible(card("o-console", "VALIDATED")),
		// Not paid yet: shipping is refused.
		chromedp.Click(card("o-console", "VALIDATED")+` button[data-action=ship]`),
		chromedp.WaitVisible(card("o-console", "VALIDATED")+` .answer.error[data-code=CONFLICT]`),
	)
	if err != nil {
		t.Fatalf("placing from the board, then shipping before paying: %v", err)
	}
	said, err := chromedp.Run(ctx, chromedp.Text(card("o-console", "VALIDATED")+` .answer`))
	if err != nil {
		t.Fatal(err)
	}
	refusal := c.expectError(t, "CONFLICT", shipOrderMutation, map[string]any{"id": "o-console"})
	if want := "CONFLICT: " + refusal.Errors[0].Message; said != want {
		t.Errorf("the card says %q, want the server's refusal %q", said, want)
	}

	err = chromedp.Do(ctx,
		chromedp.Click(card("o-console", "VALIDATED")+` button[data-action=pay]`),
		chromedp.WaitVisible(card("o-console", "PAID")+` .answer:not(.error)`),
		chromedp.Click(card("o-console", "PAID")+` button[data-action=ship]`),
		chromedp.WaitVisible(card("o-console", "SHIPPED")),
	)
	if err != nil {
		t.Fatalf("paying and shipping from the card: %v", err)
	}
	if o := c.mustOrder(t, "o-console"); o.Status != "SHIPPED" || o.PaidCents != 600 {
		t.Errorf("after paying and shipping from the board the API has %s, paid %d; want SHIPPED, paid 600", o.Status, o.PaidCents)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.card[data-status=SHIPPED] button').length`)); err != nil || n != 0 {
		t.Errorf("a shipped card offers %d actions (%v), want none", n, err)
	}

	c.placeValidated(t, "o-cancel", "c-console", []Line{{ProductID: "p-pen", Quantity: 1}})
	err = chromedp.Do(ctx,
		chromedp.Click(card("o-cancel", "VALIDATED")+` button[data-action=cancel]`),
		chromedp.WaitVisible(card("o-cancel", "CANCELLED")),
	)
	if err != nil {
		t.Fatalf("cancelling from the card: %v", err)
	}
	if o := c.mustOrder(t, "o-cancel"); o.Status != "CANCELLED" {
		t.Errorf("after cancelling from the board the API has %s", o.Status)
	}

	// The charts: orders were placed and settled while the board sampled
	// the stats, so both rates have a point above zero.
	for _, series := range []string{"placed", "settled"} {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(
			`Number(document.querySelector('#chart-orders polyline[data-series=%q]')?.dataset.peak) > 0`, series),
			chromedp.WithPollingTimeout(20*time.Second)))
		if err != nil {
			t.Errorf("the orders chart has no rate of orders %s above 0: %v", series, err)
		}
	}
	for _, series := range []string{"projection orders", "projection stock", "reaction inventory", "reaction order-process"} {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(
			`Number(document.querySelector('#chart-lag polyline[data-series=%q]')?.dataset.points) >= 2`, series),
			chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil {
			t.Errorf("the lag chart has no line of %s: %v", series, err)
		}
	}
	// A quiet shop lags 0 s: the lag chart gets a point above zero once a
	// sample (one every two seconds) catches a projection or a reaction
	// behind, so orders keep coming from 8 customers until one does. They
	// are not capped: 4,000 of them took no more than a few seconds, and the
	// samples of those seconds could all find the readers caught up. Past a
	// customer's fraud limit or the stock, orders fail, through the same
	// readers.
	c.addStock(t, "p-pen", 10000)
	load, stopLoad := context.WithCancel(context.Background())
	var placing sync.WaitGroup
	for g := range 8 {
		customer := fmt.Sprintf("c-load-%d", g)
		c.registerCustomer(t, customer, "Lo Ad", customer+"@example.com", "3 Busy St")
		placing.Add(1)
		go func() {
			defer placing.Done()
			for i := 0; load.Err() == nil; i++ {
				vars := placeOrderVars(fmt.Sprintf("o-load-%d-%d", g, i), customer, []Line{{ProductID: "p-pen", Quantity: 1}}, false)
				c.exec(load, placeOrderMutation, vars) // refusals and cancellations at the end do not matter here
			}
		}()
	}
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](
		`[...document.querySelectorAll('#chart-lag polyline')].some((p) => Number(p.dataset.peak) > 0)`,
		chromedp.WithPollingTimeout(25*time.Second)))
	stopLoad()
	placing.Wait()
	if err != nil {
		t.Errorf("the lag chart has no point above 0 while orders kept coming: %v", err)
	}
	// The window, not the whole page: the load left a long column of cards.
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	saveArtifact(t, "board-console.png", shot)
}

// TestBoardAnswersWithoutRedirectAndHasAnIcon: /board, as a newcomer types
// it, is the page itself (no redirect to /board/), and the page has an icon
// served by the app, so a browser tab shows it and the console shows no
// 404 for a favicon.
func TestBoardAnswersWithoutRedirectAndHasAnIcon(t *testing.T) {
	t.Parallel()
	c := startApp(t)
	noRedirects := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	page, err := url.Parse(c.base + "/board")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := noRedirects.Get(page.String())
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /board: HTTP %d %q (Location %q, %v), want 200 and the page", resp.StatusCode,
			resp.Header.Get("Content-Type"), resp.Header.Get("Location"), err)
	}
	icons := 0
	for _, ref := range pageReferences(t, body) {
		u := sameOrigin(t, page, ref.url)
		switch ref.kind {
		case "link":
			fetchAsset(t, c, u, "image/svg+xml")
			icons++
		case "script":
			fetchAsset(t, c, u, "text/javascript")
		case "stylesheet":
			fetchAsset(t, c, u, "text/css")
		}
	}
	if icons != 1 {
		t.Errorf("the board links %d icons, want 1", icons)
	}
}

// TestBoardShowsTheRefusal: with access control on and no token, the
// board does not show a green "live" badge over an empty shop: the badge
// says the requests are refused and the page shows the server's message
// with a hint to paste a token. With an admin's token pasted, it is live
// and shows the shop.
func TestBoardShowsTheRefusal(t *testing.T) {
	c := startApp(t, withAuthSecret(testSecret))
	admin := c.as(token(t, access.RoleAdmin, "root", time.Hour))
	admin.upsertProduct(t, "p-lamp", "Lamp", 2500)
	admin.addStock(t, "p-lamp", 10)
	admin.registerCustomer(t, "c-board", "Bo Ard", "board@example.com", "1 Screen St")
	admin.placeValidated(t, "o-seen", "c-board", []Line{{ProductID: "p-lamp", Quantity: 1}})

	ctx := browser(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(c.base+"/board"),
		chromedp.WaitVisible(`#conn.error`),
		chromedp.WaitVisible(`#problem`),
	)
	if err != nil {
		t.Fatalf("opening the board without a token: %v", err)
	}
	badge, err := chromedp.Run(ctx, chromedp.Text(`#conn`))
	if err != nil || badge != "refused" {
		t.Fatalf("the badge says %q (%v), want refused", badge, err)
	}
	said, err := chromedp.Run(ctx, chromedp.Text(`#problem`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"refused", "UNAUTHENTICATED", "paste an admin's token in the token field", "orderflow token"} {
		if !strings.Contains(said, want) {
			t.Errorf("the page says %q, want it to say %q", said, want)
		}
	}

	tok := token(t, access.RoleAdmin, "board", time.Hour)
	err = chromedp.Do(ctx,
		chromedp.SetValue(`#token`, tok),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("token").dispatchEvent(new Event("change"))`),
		chromedp.WaitVisible(`#conn.up`),
		chromedp.WaitNotVisible(`#problem`),
		chromedp.WaitVisible(`.column[data-status=VALIDATED] .card[data-order-id="o-seen"]`),
	)
	if err != nil {
		t.Fatalf("with an admin's token pasted: %v", err)
	}
}

// browser starts a headless chromium for the test, stopped when it ends,
// and returns a context whose actions run in a tab of it, for 60s at most.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Fatalf("this test needs Debian's chromium at %s (apt-get install -y chromium; .ci/run does it): %v", chromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox, // CI runs as root, where chromium's sandbox cannot start
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 720),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelBrowser)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// saveArtifact writes a test's file under its temp dir and, when
// ORDERFLOW_ARTIFACTS names a directory, there too.
func saveArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("ORDERFLOW_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		path = filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot: %s", path)
}
