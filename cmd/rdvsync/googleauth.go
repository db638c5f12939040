package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"rdvsync/connectors"
	"rdvsync/internal/calsync"
	"rdvsync/internal/catalog"
	"rdvsync/internal/store"
)

// runGoogleAuth obtains an agent's Google OAuth token: it prints the
// consent URL, receives the code (on a loopback redirect, or pasted), and
// stores the token (refreshed and rotated tokens are saved later by the
// daemon itself).
func runGoogleAuth(args []string, stdout, stderr io.Writer) int {
	return googleAuth(args, os.Stdin, stdout, stderr)
}

func googleAuth(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("google-auth", stderr)
	path := fs.String("config", "config.yaml", "configuration `file`")
	agentID := fs.String("agent", "", "agent `id` whose calendar is a Google calendar (required)")
	storePath := fs.String("store", "", "bbolt `file`, overriding store.path")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cat, ok := loadCatalog(*path, stderr)
	if !ok {
		return 1
	}
	a := cat.Agent(*agentID)
	if a == nil || a.Calendar == nil || a.Calendar.Google == nil {
		fmt.Fprintf(stderr, "rdvsync google-auth: agent %q has no google calendar in %s\n", *agentID, *path)
		return 2
	}
	creds, err := os.ReadFile(cat.Config.Resolve(a.Calendar.Google.CredentialsFile))
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync google-auth: %v\n", err)
		return 1
	}
	if kind, err := connectors.GoogleCredentialsType(creds); err != nil || kind != connectors.OAuthClientCredentials {
		fmt.Fprintln(stderr, "rdvsync google-auth: credentials_file is not an OAuth client (a service account needs no consent: the daemon uses it directly)")
		return 2
	}
	oc, err := connectors.GoogleOAuthConfig(creds)
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync google-auth: %v\n", err)
		return 1
	}
	// Google's loopback flow: the browser is sent back to 127.0.0.1 with the
	// code; where the browser runs elsewhere, paste the address it shows.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync google-auth: %v\n", err)
		return 1
	}
	defer ln.Close()
	oc.RedirectURL = "http://" + ln.Addr().String() + "/"
	b := make([]byte, 16)
	rand.Read(b)
	state := base64.RawURLEncoding.EncodeToString(b)
	codes := make(chan string, 2)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("state") != state || r.URL.Query().Get("code") == "" {
			http.Error(w, "Réponse inattendue : recommencez rdvsync google-auth.", http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "C'est fait : rdvsync a reçu l'autorisation. Vous pouvez fermer cette page.")
		codes <- r.URL.Query().Get("code")
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	go func() {
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			if c := codeFrom(strings.TrimSpace(sc.Text())); c != "" {
				codes <- c
				return
			}
		}
	}()
	fmt.Fprintf(stdout, "Agent %s (%s): open this address, sign in with the agent's Google account and allow access:\n\n  %s\n\n",
		a.ID, a.Email, oc.AuthCodeURL(state, oauth2.AccessTypeOffline, oauth2.ApprovalForce))
	fmt.Fprintln(stdout, "Waiting for Google's answer… If the browser runs on another machine, paste here the address it shows after consent (or its code):")
	var code string
	select {
	case code = <-codes:
	case <-time.After(10 * time.Minute):
		fmt.Fprintln(stderr, "rdvsync google-auth: no answer after 10 minutes")
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := oc.Exchange(ctx, code)
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync google-auth: exchanging the code: %v\n", err)
		return 1
	}
	if tok.RefreshToken == "" {
		fmt.Fprintln(stderr, "rdvsync google-auth: Google gave no refresh token; remove rdvsync's access in the Google account and try again")
		return 1
	}
	var res map[string]string
	body, _ := json.Marshal(tok)
	ok = adminCallBody(*path, *storePath, stderr, func(ctx context.Context, cat *catalog.Catalog, st *store.Store) (any, error) {
		if err := (calsync.TokenStore{Store: st}).SaveToken(ctx, a.ID, tok); err != nil {
			return nil, err
		}
		_, err := calsync.New(st, func() *catalog.Catalog { return cat }, nil, calsync.Options{}).RetryDead(ctx, a.ID)
		return map[string]string{"saved": a.ID}, err
	}, http.MethodPost, "/admin/v1/google-token?agent="+url.QueryEscape(a.ID), body, &res)
	if !ok {
		return 1
	}
	fmt.Fprintf(stdout, "Token stored for agent %s: its RDVs will now be pushed to Google calendar %q.\n", a.ID, a.Calendar.Google.CalendarID)
	return 0
}

// codeFrom accepts a pasted code or the whole redirect address.
func codeFrom(s string) string {
	if u, err := url.Parse(s); err == nil && u.Query().Get("code") != "" {
		return u.Query().Get("code")
	}
	if strings.ContainsAny(s, " /?&=") && !strings.HasPrefix(s, "4/") {
		return ""
	}
	return s
}
