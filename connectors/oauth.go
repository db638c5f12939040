package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/calendar/v3"
)

// googleScopes is all the Google connector needs: calendar.events covers
// events.insert/update/delete and events.list, which Busy uses (see
// Google.Busy for why not freeBusy.query and its calendar.freebusy scope).
var googleScopes = []string{calendar.CalendarEventsScope}

// CredentialsType is the kind of a Google credentials JSON file.
type CredentialsType string

const (
	// OAuthClientCredentials is an OAuth client ("installed" or "web"
	// application): each agent authorizes rdvsync once, and rdvsync keeps
	// the agent's refresh token (PersistingTokenSource).
	OAuthClientCredentials CredentialsType = "oauth_client"
	// ServiceAccountCredentials is a service account key, used with
	// domain-wide delegation to act as each agent of a Google Workspace
	// domain (ServiceAccountTokenSource).
	ServiceAccountCredentials CredentialsType = "service_account"
)

// GoogleCredentialsType tells which kind of credentials a Google JSON file
// holds, as downloaded from the Google Cloud console.
func GoogleCredentialsType(credentialsJSON []byte) (CredentialsType, error) {
	var f struct {
		Type      string          `json:"type"`
		Installed json.RawMessage `json:"installed"`
		Web       json.RawMessage `json:"web"`
	}
	if err := json.Unmarshal(credentialsJSON, &f); err != nil {
		return "", fmt.Errorf("google credentials: %w", err)
	}
	switch {
	case f.Type == "service_account":
		return ServiceAccountCredentials, nil
	case f.Installed != nil || f.Web != nil:
		return OAuthClientCredentials, nil
	case f.Type != "":
		return "", fmt.Errorf("google credentials of type %q: want an OAuth client or a service account key", f.Type)
	}
	return "", errors.New("google credentials: neither an OAuth client nor a service account key")
}

// GoogleOAuthConfig is the OAuth 2.0 configuration of an OAuth client
// credentials file, with the scopes the Google connector needs. The
// caller adds RedirectURL if the file has several.
func GoogleOAuthConfig(credentialsJSON []byte) (*oauth2.Config, error) {
	cfg, err := google.ConfigFromJSON(credentialsJSON, googleScopes...)
	if err != nil {
		return nil, fmt.Errorf("google oauth client: %w", err)
	}
	return cfg, nil
}

// ServiceAccountTokenSource returns tokens of a service account acting as
// subject, the agent's e-mail address, through domain-wide delegation
// (the Workspace admin grants the account's client id the calendar.events
// scope). An empty subject acts as the service account itself, for a
// calendar shared with it. ctx is used for every token request.
func ServiceAccountTokenSource(ctx context.Context, credentialsJSON []byte, subject string) (oauth2.TokenSource, error) {
	cfg, err := google.JWTConfigFromJSON(credentialsJSON, googleScopes...)
	if err != nil {
		return nil, fmt.Errorf("google service account: %w", err)
	}
	cfg.Subject = subject
	return &renewableSource{renew: func() oauth2.TokenSource { return cfg.TokenSource(ctx) }}, nil
}

// ErrNoToken is wrapped by TokenStore.LoadToken when the agent has not
// authorized rdvsync (or was asked to again).
var ErrNoToken = errors.New("no oauth token")

// TokenStore keeps each agent's OAuth token between runs.
type TokenStore interface {
	// LoadToken returns the agent's last saved token, or an error wrapping
	// ErrNoToken.
	LoadToken(ctx context.Context, agentID string) (*oauth2.Token, error)
	SaveToken(ctx context.Context, agentID string, tok *oauth2.Token) error
}

// PersistingTokenSource returns the agent's tokens, refreshed through cfg
// when they expire (or when the API refused one, see GoogleConfig), and
// saves every token it gets from Google to store: Google may rotate the
// refresh token, and the old one stops working once the new one is used,
// so a new refresh token that is not saved is an agent who must authorize
// rdvsync again after a restart. initial is the token to start with; if
// nil, it is loaded from store on first use. ctx is used for the token
// requests and the store calls.
//
// When saving fails the token is kept in memory, Token returns the error
// (the caller retries later), and the next Token call saves it first.
func PersistingTokenSource(ctx context.Context, cfg *oauth2.Config, agentID string, initial *oauth2.Token, store TokenStore) oauth2.TokenSource {
	return &persistingSource{ctx: ctx, cfg: cfg, agentID: agentID, store: store, tok: initial}
}

type persistingSource struct {
	ctx     context.Context
	cfg     *oauth2.Config
	agentID string
	store   TokenStore

	mu      sync.Mutex
	tok     *oauth2.Token // nil until loaded
	unsaved bool
}

func (s *persistingSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok == nil {
		tok, err := s.store.LoadToken(s.ctx, s.agentID)
		if errors.Is(err, ErrNoToken) {
			return nil, Permanent(fmt.Errorf("google token of agent %s: %w", s.agentID, err))
		}
		if err != nil {
			return nil, fmt.Errorf("load google token of agent %s: %w", s.agentID, err)
		}
		s.tok = tok
	}
	if s.unsaved {
		if err := s.save(); err != nil {
			return nil, err
		}
	}
	if s.tok.Valid() {
		return s.tok, nil
	}
	if s.tok.RefreshToken == "" {
		return nil, Permanent(fmt.Errorf("google token of agent %s has no refresh token: %w", s.agentID, ErrNoToken))
	}
	// A source built on the refresh token alone always asks Google; the
	// oauth2 package keeps the old refresh token when Google sends none.
	fresh, err := s.cfg.TokenSource(s.ctx, &oauth2.Token{RefreshToken: s.tok.RefreshToken}).Token()
	if err != nil {
		return nil, fmt.Errorf("refresh google token of agent %s: %w", s.agentID, err)
	}
	if fresh.AccessToken != s.tok.AccessToken || fresh.RefreshToken != s.tok.RefreshToken {
		s.unsaved = true
	}
	s.tok = fresh
	if s.unsaved {
		if err := s.save(); err != nil {
			return nil, err
		}
	}
	return s.tok, nil
}

func (s *persistingSource) save() error {
	if err := s.store.SaveToken(s.ctx, s.agentID, s.tok); err != nil {
		return fmt.Errorf("save google token of agent %s: %w", s.agentID, err)
	}
	s.unsaved = false
	return nil
}

// Invalidate drops the access token the API refused, so the next Token
// call refreshes it; see tokenInvalidator.
func (s *persistingSource) Invalidate(refused *oauth2.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && s.tok.AccessToken == refused.AccessToken {
		s.tok = &oauth2.Token{RefreshToken: s.tok.RefreshToken}
	}
}

// renewableSource wraps a caching token source that cannot be told to
// forget its token (the JWT one): Invalidate replaces it with a new one.
type renewableSource struct {
	renew func() oauth2.TokenSource

	mu   sync.Mutex
	src  oauth2.TokenSource
	last *oauth2.Token
}

func (s *renewableSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.src == nil {
		s.src = s.renew()
	}
	tok, err := s.src.Token()
	if err != nil {
		return nil, err
	}
	s.last = tok
	return tok, nil
}

func (s *renewableSource) Invalidate(refused *oauth2.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last != nil && s.last.AccessToken == refused.AccessToken {
		s.src, s.last = nil, nil
	}
}
