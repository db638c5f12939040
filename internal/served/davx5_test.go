package served

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// syncTokenRE finds the sync tokens in a response; group 1 is the epoch.
var syncTokenRE = regexp.MustCompile(regexp.QuoteMeta(syncTokenPrefix) + `([0-9a-f]+)/[0-9]+`)

// TestDAVx5Replay replays testdata/davx5 (see its README): DAVx5's
// discovery, first synchronisation, then a synchronisation from its token
// after a change, each response compared with its golden file.
func TestDAVx5Replay(t *testing.T) {
	f := newFixture(t, "https://rdv.example.org")
	files, err := filepath.Glob(filepath.Join("testdata", "davx5", "*.http"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no requests in testdata/davx5: %v", err)
	}
	var token string
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".http")
		if strings.HasSuffix(name, "-after-change") {
			f.changeCamille(t)
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		head, body, _ := strings.Cut(strings.ReplaceAll(string(raw), "{{sync-token}}", token), "\n\n")
		recorded, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head + "\n\n")))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		h := basic(camille, camilleToken)
		for k, v := range recorded.Header {
			h[k] = v
		}
		resp, out := f.do(t, recorded.Method, recorded.URL.Path, h, body)
		if m := syncTokenRE.FindString(out); m != "" && strings.Contains(body, "sync-collection") {
			token = m // the token a synchronisation ends with, for the next one
		}
		got := resp.Status + "\nContent-Type: " + resp.Header.Get("Content-Type") + "\n\n" +
			syncTokenRE.ReplaceAllStringFunc(out, func(tok string) string {
				return strings.Replace(tok, syncTokenRE.FindStringSubmatch(tok)[1], "EPOCH", 1)
			})
		golden := filepath.Join("testdata", "davx5", name+".golden")
		if *update {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if got != string(want) {
			t.Errorf("%s: the response differs from %s:\n%s", name, golden, got)
		}
	}
}
