package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"rdvsync/connectors"
	"rdvsync/internal/calsync"
	"rdvsync/internal/catalog"
	"rdvsync/internal/store"
)

// openConnector returns the factory of agents' calendar connectors: CalDAV
// with the configured credentials, Google with a service account
// (domain-wide delegation, acting as the agent's email) or with the OAuth
// token that `rdvsync google-auth` stored. googleEndpoint is empty but in
// tests, which point it at a fake of the Calendar API.
func openConnector(st *store.Store, cat func() *catalog.Catalog, googleEndpoint string) calsync.Factory {
	return func(ctx context.Context, a *catalog.Agent) (connectors.Connector, error) {
		c := a.Calendar
		switch {
		case c == nil:
			return nil, fmt.Errorf("agent %s has no calendar", a.ID)
		case c.CalDAV != nil:
			return connectors.NewCalDAV(connectors.CalDAVConfig{URL: c.CalDAV.URL, Username: c.CalDAV.Username,
				Password: string(c.CalDAV.Password), Timeout: 30 * time.Second, Location: a.Organisations[0].Location})
		case c.Google != nil:
			path := cat().Config.Resolve(c.Google.CredentialsFile)
			creds, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("google credentials of agent %s: %w", a.ID, err)
			}
			kind, err := connectors.GoogleCredentialsType(creds)
			if err != nil {
				return nil, fmt.Errorf("google credentials %s: %w", path, err)
			}
			cfg := connectors.GoogleConfig{AgentID: a.ID, CalendarID: c.Google.CalendarID, Timeout: 30 * time.Second, Endpoint: googleEndpoint}
			// The connector's token source outlives this call: it must not
			// use the delivery's context.
			bg := context.Background()
			if kind == connectors.ServiceAccountCredentials {
				if cfg.TokenSource, err = connectors.ServiceAccountTokenSource(bg, creds, a.Email); err != nil {
					return nil, err
				}
			} else {
				oc, err := connectors.GoogleOAuthConfig(creds)
				if err != nil {
					return nil, err
				}
				tokens := calsync.TokenStore{Store: st}
				tok, err := tokens.LoadToken(ctx, a.ID)
				if err != nil {
					return nil, err
				}
				cfg.TokenSource = connectors.PersistingTokenSource(bg, oc, a.ID, tok, tokens)
			}
			return connectors.NewGoogle(bg, cfg)
		}
		return nil, fmt.Errorf("agent %s: calendar has neither caldav nor google", a.ID)
	}
}
