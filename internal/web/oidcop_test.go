package web_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The OpenID Provider of the sign-in tests is zitadel/oidc's certified
// op package, serving discovery, authorization (with PKCE), token, keys
// and UserInfo on a loopback server. opStorage is its storage, in memory:
// one confidential client (rdvsync), the users who may sign in, the auth
// requests and access tokens. Its login page is a form taking a username,
// as a provider's would take a password.

type opUser struct {
	email    string
	verified *bool // nil: no email_verified claim (ProConnect)
}

type opAuthRequest struct {
	id, clientID, redirectURI, state, nonce string
	scopes, prompt                          []string
	challenge                               *oidc.CodeChallenge
	subject                                 string
	done                                    bool
	authTime                                time.Time
}

func (a *opAuthRequest) GetID() string                         { return a.id }
func (a *opAuthRequest) GetACR() string                        { return "" }
func (a *opAuthRequest) GetAMR() []string                      { return []string{"pwd"} }
func (a *opAuthRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *opAuthRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *opAuthRequest) GetClientID() string                   { return a.clientID }
func (a *opAuthRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *opAuthRequest) GetNonce() string                      { return a.nonce }
func (a *opAuthRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *opAuthRequest) GetResponseType() oidc.ResponseType    { return oidc.ResponseTypeCode }
func (a *opAuthRequest) GetResponseMode() oidc.ResponseMode    { return "" }
func (a *opAuthRequest) GetScopes() []string                   { return a.scopes }
func (a *opAuthRequest) GetState() string                      { return a.state }
func (a *opAuthRequest) GetSubject() string                    { return a.subject }
func (a *opAuthRequest) Done() bool                            { return a.done }

type opClient struct {
	id, secret, redirectURI string
	emailInIDToken          bool // as Keycloak does; ProConnect gives it from UserInfo only
}

func (c *opClient) GetID() string                       { return c.id }
func (c *opClient) RedirectURIs() []string              { return []string{c.redirectURI} }
func (c *opClient) PostLogoutRedirectURIs() []string    { return nil }
func (c *opClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *opClient) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c *opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *opClient) GrantTypes() []oidc.GrantType        { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c *opClient) LoginURL(id string) string           { return "/login?authRequestID=" + id }
func (c *opClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *opClient) IDTokenLifetime() time.Duration      { return 5 * time.Minute }

// DevMode lets the client's redirect URI be plain http on loopback.
func (c *opClient) DevMode() bool { return true }
func (c *opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *opClient) IsScopeAllowed(string) bool           { return false }
func (c *opClient) IDTokenUserinfoClaimsAssertion() bool { return c.emailInIDToken }
func (c *opClient) ClockSkew() time.Duration             { return 0 }

type opKey struct {
	id  string
	key *ecdsa.PrivateKey
}

func (k *opKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k *opKey) Algorithm() jose.SignatureAlgorithm          { return jose.ES256 }
func (k *opKey) ID() string                                  { return k.id }
func (k *opKey) Use() string                                 { return "sig" }

type opPublicKey struct{ *opKey }

func (k opPublicKey) Key() any { return &k.key.PublicKey }

type opSigningKey struct{ *opKey }

func (k opSigningKey) Key() any { return k.key }

type opToken struct {
	subject, clientID string
	scopes            []string
	expires           time.Time
}

type opStorage struct {
	mu       sync.Mutex
	client   *opClient
	users    map[string]opUser // by username
	requests map[string]*opAuthRequest
	codes    map[string]string // code → auth request id
	tokens   map[string]*opToken
	key      *opKey
	// wrongNonce makes the provider misbehave: its ID tokens carry another
	// nonce than the one asked for.
	wrongNonce bool
	// seen are the authorization requests received, for the tests.
	seen []opAuthRequest
}

var _ op.Storage = (*opStorage)(nil)
var _ op.CanSetUserinfoFromRequest = (*opStorage)(nil)

func newOPStorage(client *opClient, users map[string]opUser) *opStorage {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return &opStorage{client: client, users: users, requests: map[string]*opAuthRequest{}, codes: map[string]string{},
		tokens: map[string]*opToken{}, key: &opKey{id: "k1", key: key}}
}

func (s *opStorage) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &opAuthRequest{id: rand.Text(), clientID: r.ClientID, redirectURI: r.RedirectURI, state: r.State, nonce: r.Nonce, scopes: r.Scopes,
		prompt: r.Prompt}
	if r.CodeChallenge != "" {
		a.challenge = &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod}
	}
	if s.wrongNonce {
		a.nonce = "not-the-nonce-asked-for"
	}
	s.requests[a.id] = a
	s.seen = append(s.seen, *a)
	return a, nil
}

func (s *opStorage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.requests[id]; ok {
		return a, nil
	}
	return nil, errors.New("auth request not found")
}

func (s *opStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errors.New("code invalid or expired")
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *opStorage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

func (s *opStorage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

// login marks the auth request done for username, as the provider's login
// page does once the password is right.
func (s *opStorage) login(id, username string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok {
		return errors.New("auth request not found")
	}
	if _, ok := s.users[username]; !ok {
		return errors.New("unknown user")
	}
	a.subject, a.done, a.authTime = username, true, time.Now()
	return nil
}

func (s *opStorage) CreateAccessToken(_ context.Context, r op.TokenRequest) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, exp := rand.Text(), time.Now().Add(5*time.Minute)
	clientID := s.client.id
	if a, ok := r.(*opAuthRequest); ok {
		clientID = a.clientID
	}
	s.tokens[id] = &opToken{subject: r.GetSubject(), clientID: clientID, scopes: r.GetScopes(), expires: exp}
	return id, exp, nil
}

func (s *opStorage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errors.New("no refresh tokens")
}

func (s *opStorage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, errors.New("no refresh tokens")
}

func (s *opStorage) TerminateSession(context.Context, string, string) error { return nil }

func (s *opStorage) RevokeToken(_ context.Context, id, _, _ string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, id)
	return nil
}

func (s *opStorage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

func (s *opStorage) SigningKey(context.Context) (op.SigningKey, error) {
	return opSigningKey{s.key}, nil
}

func (s *opStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.ES256}, nil
}

func (s *opStorage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{opPublicKey{s.key}}, nil
}

func (s *opStorage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if id != s.client.id {
		return nil, errors.New("client not found")
	}
	return s.client, nil
}

func (s *opStorage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	if id != s.client.id || secret != s.client.secret {
		return errors.New("invalid client")
	}
	return nil
}

func (s *opStorage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s *opStorage) SetUserinfoFromRequest(_ context.Context, ui *oidc.UserInfo, r op.IDTokenRequest, scopes []string) error {
	s.setUserinfo(ui, r.GetSubject(), scopes)
	return nil
}

func (s *opStorage) SetUserinfoFromToken(_ context.Context, ui *oidc.UserInfo, tokenID, _, _ string) error {
	s.mu.Lock()
	t, ok := s.tokens[tokenID]
	s.mu.Unlock()
	if !ok || time.Now().After(t.expires) {
		return errors.New("token invalid or expired")
	}
	s.setUserinfo(ui, t.subject, t.scopes)
	return nil
}

func (s *opStorage) setUserinfo(ui *oidc.UserInfo, subject string, scopes []string) {
	ui.Subject = subject
	u := s.users[subject]
	if slices.Contains(scopes, oidc.ScopeEmail) {
		ui.Email = u.email
		switch {
		case u.verified == nil:
		case *u.verified:
			ui.EmailVerified = true
		default:
			// The typed field omits false: say it explicitly, as Keycloak does.
			ui.AppendClaims("email_verified", false)
		}
	}
}

func (s *opStorage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errors.New("no introspection")
}

func (s *opStorage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *opStorage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("no JWT profile clients")
}

func (s *opStorage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("no JWT profile clients")
}

func (s *opStorage) Health(context.Context) error { return nil }

// requestsSeen returns the authorization requests the provider received.
func (s *opStorage) requestsSeen() []opAuthRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

// provider is a running OpenID Provider.
type provider struct {
	issuer  string
	storage *opStorage
}

// newProvider starts an OpenID Provider on loopback for a client whose
// redirect URI is redirectURI.
func newProvider(t *testing.T, client *opClient, users map[string]opUser) *provider {
	t.Helper()
	st := newOPStorage(client, users)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	cfg := &op.Config{CryptoKey: sha256.Sum256([]byte("rdvsync test provider")), CodeMethodS256: true, AuthMethodPost: true}
	p, err := op.NewProvider(cfg, st, op.StaticIssuer(srv.URL), op.WithAllowInsecure(), op.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	callback := op.AuthCallbackURL(p)
	// The provider's login page: a form, then back to the authorization
	// endpoint's callback, which redirects to the client with a code.
	mux.Handle("/login", op.NewIssuerInterceptor(p.IssuerFromRequest).HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.FormValue("authRequestID")
		if r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!DOCTYPE html><html lang="fr"><title>Fournisseur d'identité</title>`+
				`<form method="post" action="/login"><input type="hidden" name="authRequestID" value="%s">`+
				`<label>Identifiant <input name="username"></label><button>Connexion</button></form>`, html.EscapeString(id))
			return
		}
		if err := st.login(id, r.FormValue("username")); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		http.Redirect(w, r, callback(r.Context(), id), http.StatusFound)
	}))
	mux.Handle("/", p)
	return &provider{issuer: srv.URL, storage: st}
}
