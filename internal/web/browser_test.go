package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser tests drive Debian's headless Chromium with chromedp, as a
// prescripteur, an agent and an usager would, and run axe-core on every
// page they reach. RDVSYNC_SKIP_BROWSER=1 skips them when Chromium is
// missing; RDVSYNC_SCREENSHOTS=1 keeps the screenshots of passing tests
// too (run with -artifacts to find them after the run).

const chromiumPath = "/usr/bin/chromium"

type browser struct {
	t     *testing.T
	ctx   context.Context
	h     *harness
	shots []shot
}

type shot struct {
	name string
	png  []byte
}

// newBrowser starts a headless Chromium with a fresh profile for the
// test. Its screenshots are written to the test's artifact directory if
// the test fails.
func newBrowser(t *testing.T, h *harness) *browser {
	t.Helper()
	return newBrowserFor(t, h, 40*time.Second)
}

// newBrowserFor is newBrowser for a test that may drive the browser for
// up to limit (a journey through many pages).
func newBrowserFor(t *testing.T, h *harness, limit time.Duration) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("RDVSYNC_SKIP_BROWSER") == "1" {
			t.Skip("no Chromium at " + chromiumPath + " (RDVSYNC_SKIP_BROWSER=1)")
		}
		t.Fatalf("the browser tests need headless Chromium at %s: run `make test-deps` (or apt-get install chromium); "+
			"set RDVSYNC_SKIP_BROWSER=1 to skip them", chromiumPath)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	// Start the browser on a context without deadline: the deadline of
	// the first Run would stop the whole browser.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start Chromium: %v", err)
	}
	tctx, cancelT := context.WithTimeout(ctx, limit)
	b := &browser{t: t, ctx: tctx, h: h}
	t.Cleanup(func() {
		cancelT()
		cancel()
		cancelAlloc()
		b.saveShots()
	})
	return b
}

func (b *browser) saveShots() {
	if !b.t.Failed() && os.Getenv("RDVSYNC_SCREENSHOTS") != "1" {
		return
	}
	dir := b.t.ArtifactDir()
	for i, s := range b.shots {
		p := filepath.Join(dir, fmt.Sprintf("%02d-%s.png", i+1, s.name))
		if err := os.WriteFile(p, s.png, 0o644); err != nil {
			b.t.Log(err)
		}
	}
	b.t.Logf("screenshots of each step: %s", dir)
}

// step runs actions, then keeps a screenshot of the page and checks it
// with axe-core. The test stops at the first failing step.
func (b *browser) step(name string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	err := chromedp.Do(b.ctx, actions...)
	b.screenshot(name)
	if err != nil {
		b.t.Fatalf("step %q: %v", name, err)
	}
	b.checkAccessibility(name)
}

func (b *browser) screenshot(name string) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.shots = append(b.shots, shot{name, png})
}

// open navigates to a path of the test server.
func (b *browser) open(path string) chromedp.Action[chromedp.Void] {
	return chromedp.Navigate(b.h.srv.URL + path)
}

// page waits for the page named name (data-page on <main>).
func page(name string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(`main[data-page="` + name + `"]`))
}

func click(css string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(css)) }

func set(css, value string) chromedp.Action[chromedp.Void] {
	if value == "" {
		return chromedp.Clear(chromedp.CSS(css))
	}
	return chromedp.SetValue(chromedp.CSS(css), value)
}

// text returns the text of the element.
func (b *browser) text(css string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", css, err)
	}
	return s
}

func (b *browser) attr(css, name string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).getAttribute(%q) || ""`, css, name)))
	if err != nil {
		b.t.Fatalf("%s[%s]: %v", css, name, err)
	}
	return v
}

func (b *browser) location() string {
	b.t.Helper()
	u, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

// mustSee fails unless the main content shows every text.
func (b *browser) mustSee(texts ...string) {
	b.t.Helper()
	main := b.text("main")
	for _, s := range texts {
		if !strings.Contains(main, s) {
			b.t.Errorf("the page %s does not show %q", b.location(), s)
		}
	}
}

var (
	axeOnce   sync.Once
	axeSource string
	axeErr    error
)

// violation is one axe-core rule that a page breaks.
type violation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// checkAccessibility runs axe-core (testdata/axe.min.js, copied from the
// npm package by scripts/update-dsfr.sh) on the page and fails on any
// serious or critical violation.
func (b *browser) checkAccessibility(name string) {
	b.t.Helper()
	axeOnce.Do(func() {
		var src []byte
		src, axeErr = os.ReadFile("testdata/axe.min.js")
		axeSource = string(src)
	})
	if axeErr != nil {
		b.t.Fatalf("axe-core: %v", axeErr)
	}
	// DevTools evaluation is not subject to the page's CSP, which allows
	// no script at all.
	if err := chromedp.Do(b.ctx, chromedp.Evaluate[chromedp.Void](`if (typeof axe === "undefined") {`+axeSource+`}`)); err != nil {
		b.t.Fatalf("%s: inject axe-core: %v", name, err)
	}
	found, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]violation](`axe.run(document, {resultTypes: ["violations"]}).then(r =>
		r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => ({
			id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " — " + n.failureSummary)})))`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: axe-core: %v", name, err)
	}
	for _, v := range found {
		b.t.Errorf("%s: accessibility (%s) %s: %s\n\t%s", name, v.Impact, v.ID, v.Help, strings.Join(v.Nodes, "\n\t"))
	}
}
