package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/ratelimit"
)

// Agents sign in with their professional identity through the OpenID
// Provider of auth.oidc (ProConnect, Keycloak, LemonLDAP::NG…): the
// authorization code flow of OpenID Connect Core 1.0 §3.1, with PKCE
// (RFC 7636, S256), a state bound to the browser's visitor cookie and a
// nonce checked in the ID token (§3.1.2.1, §3.1.3.7). The agent is the one
// whose configured email is the email the provider gives, in the ID token
// or else from the UserInfo endpoint (ProConnect puts it only there); an
// address the provider says is not verified is refused.

// oidcCallbackPath is the redirect URI to register at the provider, after
// server.public_url.
const oidcCallbackPath = "/agents/connexion/oidc/retour"

// oidcFlowTTL is how long the provider may take to send the agent back.
const oidcFlowTTL = 10 * time.Minute

// oidcTimeout bounds each call to the provider (discovery, token, keys,
// UserInfo).
const oidcTimeout = 15 * time.Second

// newOIDCThrottle bounds the sign-ins a client IP may start: 20, then one
// every 10 seconds, so that no one fills the sign-ins under way (bounded by
// maxPendingSignIns) and locks the others out.
func newOIDCThrottle() *ratelimit.Buckets { return ratelimit.New(rate.Every(10*time.Second), 20) }

// oidcFlow is a sign-in under way, kept under its state.
type oidcFlow struct {
	// Visitor is the SHA-256 of the visitor cookie of the browser that
	// started it: enough to recognise it, nothing to replay.
	Visitor  string `json:"b"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"` // PKCE code verifier
	Ret      string `json:"r"`
}

// visitorDigest is what an oidcFlow keeps of the visitor cookie.
func visitorDigest(visitor string) string {
	sum := sha256.Sum256([]byte(visitor))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// relyingParty is this daemon at the provider of auth.oidc. Discovery
// (OpenID Connect Discovery 1.0) happens at the first sign-in and again
// when a reload changes the provider, or after a failure.
type relyingParty struct {
	client *http.Client
	mu     sync.Mutex
	cfg    config.OIDC
	p      *oidc.Provider
}

func sameOIDC(a, b config.OIDC) bool {
	return a.Issuer == b.Issuer && a.ClientID == b.ClientID && a.ClientSecret == b.ClientSecret &&
		strings.Join(a.Scopes, " ") == strings.Join(b.Scopes, " ")
}

// provider returns the discovered provider for cfg.
func (rp *relyingParty) provider(ctx context.Context, cfg *config.OIDC) (*oidc.Provider, error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.p != nil && sameOIDC(rp.cfg, *cfg) {
		return rp.p, nil
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, rp.client), oidcTimeout)
	defer cancel()
	p, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc discovery of %s: %w", cfg.Issuer, err)
	}
	rp.cfg, rp.p = *cfg, p
	return p, nil
}

func oauth2Config(p *oidc.Provider, cfg *config.OIDC, redirect string) *oauth2.Config {
	return &oauth2.Config{ClientID: cfg.ClientID, ClientSecret: string(cfg.ClientSecret), Endpoint: p.Endpoint(),
		RedirectURL: redirect, Scopes: cfg.Scopes}
}

func (w *Web) providerDown(rw http.ResponseWriter, r *http.Request, c *reqCtx, err error) {
	w.log.Error("oidc sign-in failed", slog.Any("error", err))
	w.renderSignInProblem(rw, r, c, http.StatusBadGateway, signInProblem{Heading: "Connexion impossible pour le moment",
		Message: "Le service d'identification de votre structure ne répond pas comme prévu. Réessayez dans quelques minutes, " +
			"ou demandez un lien de connexion par email."})
}

// handleOIDCStart sends the browser to the provider.
func (w *Web) handleOIDCStart(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	cfg := c.cat.Config.Auth.OIDC
	if cfg == nil {
		w.notFound(rw, r, c)
		return
	}
	if ok, _ := w.oidcPerIP.Take(clientKey(r, c), time.Now()); !ok {
		w.log.Warn("oidc sign-in throttled")
		w.renderSignInProblem(rw, r, c, http.StatusTooManyRequests, signInProblem{Heading: "Trop de tentatives de connexion",
			Message: "Trop de connexions ont été commencées depuis ce poste. Réessayez dans une minute."})
		return
	}
	p, err := w.rp.provider(r.Context(), cfg)
	if err != nil {
		w.providerDown(rw, r, c, err)
		return
	}
	f := oidcFlow{Visitor: visitorDigest(c.visitor), Nonce: randomID(), Verifier: oauth2.GenerateVerifier(), Ret: safeReturn(r.URL.Query().Get("retour"))}
	state, err := w.flows.put(r.Context(), f, w.now(), oidcFlowTTL)
	if err != nil && !errors.Is(err, errTooManyTickets) {
		w.internalError(rw, r, c, err)
		return
	}
	if err != nil {
		w.log.Warn("too many OpenID Connect sign-ins under way")
		w.renderSignInProblem(rw, r, c, http.StatusServiceUnavailable, signInProblem{Heading: "Connexion impossible pour le moment",
			Message: "Trop de connexions sont en cours. Réessayez dans quelques minutes."})
		return
	}
	// prompt=login (OpenID Connect Core 1.0 §3.1.2.1): the provider asks
	// who is there every time, so that on a shared computer the next person
	// cannot come in as the agent who signed out of rdvsync but is still
	// signed in at the provider.
	u := oauth2Config(p, cfg, w.publicBase(c.cat)+oidcCallbackPath).AuthCodeURL(state, oidc.Nonce(f.Nonce),
		oauth2.S256ChallengeOption(f.Verifier), oauth2.SetAuthURLParam("prompt", "login"))
	http.Redirect(rw, r, u, http.StatusFound)
}

// oidcClaims are the claims read from the ID token or UserInfo.
type oidcClaims struct {
	Subject       string          `json:"sub"`
	Email         string          `json:"email"`
	EmailVerified json.RawMessage `json:"email_verified"`
}

// unverified reports whether the provider says the email is not verified.
// Providers that say nothing (ProConnect vouches for the addresses of its
// identity providers) are trusted; some send the boolean as a string.
func (c *oidcClaims) unverified() bool {
	switch strings.Trim(string(c.EmailVerified), `"`) {
	case "false", "0":
		return true
	}
	return false
}

// handleOIDCCallback is where the provider sends the browser back.
func (w *Web) handleOIDCCallback(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	cfg := c.cat.Config.Auth.OIDC
	if cfg == nil {
		w.notFound(rw, r, c)
		return
	}
	q := r.URL.Query()
	f, ok, err := w.flows.take(r.Context(), q.Get("state"), w.now())
	if err != nil {
		w.internalError(rw, r, c, err)
		return
	}
	if !ok || f.Visitor != visitorDigest(c.visitor) {
		// An old tab, a replayed answer, or an answer meant for another
		// browser (login CSRF): nothing is signed in.
		w.log.Warn("oidc callback with an unknown or foreign state")
		w.renderSignInProblem(rw, r, c, http.StatusBadRequest, signInProblem{Heading: "Connexion expirée",
			Message: "Cette tentative de connexion a expiré ou a été commencée dans un autre navigateur. Recommencez depuis la page de connexion."})
		return
	}
	if e := q.Get("error"); e != "" {
		w.log.Warn("oidc provider refused the sign-in", "error_code", e)
		msg := "Le service d'identification n'a pas confirmé votre identité. Recommencez, ou demandez un lien de connexion par email."
		if e == "access_denied" {
			msg = "La connexion a été annulée. Vous pouvez recommencer quand vous voulez."
		}
		w.renderSignInProblem(rw, r, c, http.StatusForbidden, signInProblem{Heading: "Connexion non aboutie", Message: msg})
		return
	}
	p, err := w.rp.provider(r.Context(), cfg)
	if err != nil {
		w.providerDown(rw, r, c, err)
		return
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(r.Context(), w.rp.client), oidcTimeout)
	defer cancel()
	claims, err := w.oidcIdentity(ctx, p, cfg, c.cat, q.Get("code"), f)
	if err != nil {
		w.providerDown(rw, r, c, err)
		return
	}
	if claims.unverified() {
		w.log.Warn("oidc sign-in refused: email not verified by the provider")
		w.renderSignInProblem(rw, r, c, http.StatusForbidden, signInProblem{Heading: "Adresse email non vérifiée",
			Message: "Le service d'identification indique que votre adresse email n'a pas été vérifiée. Vérifiez-la auprès de lui, puis recommencez."})
		return
	}
	a := c.cat.AgentByEmail(claims.Email)
	if a == nil {
		// The address is not logged: it may be anyone's.
		w.log.Warn("oidc sign-in refused: no agent has this email")
		w.renderSignInProblem(rw, r, c, http.StatusForbidden, signInProblem{Heading: "Compte agent introuvable",
			Message: "Vous êtes bien identifié·e, mais aucun agent de RDV Solidarités n'a cette adresse email ici. " +
				"Demandez à l'administrateur de RDV Solidarités de votre structure d'enregistrer cette adresse sur votre fiche d'agent.",
			Detail: claims.Email})
		return
	}
	w.signIn(rw, r, c, a, "oidc", f.Ret)
}

// oidcIdentity redeems the code (with the PKCE verifier), verifies the ID
// token (signature, issuer, audience, expiry, nonce) and returns the
// agent's claims, asking UserInfo for the email when the ID token lacks it.
func (w *Web) oidcIdentity(ctx context.Context, p *oidc.Provider, cfg *config.OIDC, cat *catalog.Catalog, code string, f oidcFlow) (*oidcClaims, error) {
	if code == "" {
		return nil, errors.New("oidc callback without a code")
	}
	tok, err := oauth2Config(p, cfg, w.publicBase(cat)+oidcCallbackPath).Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return nil, fmt.Errorf("oidc token request: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("oidc token response without an id_token")
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("oidc id_token: %w", err)
	}
	if idt.Nonce != f.Nonce {
		return nil, errors.New("oidc id_token: nonce mismatch")
	}
	var claims oidcClaims
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("oidc id_token claims: %w", err)
	}
	if claims.Email != "" {
		return &claims, nil
	}
	ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return nil, fmt.Errorf("oidc userinfo: %w", err)
	}
	var uc oidcClaims
	if err := ui.Claims(&uc); err != nil {
		return nil, fmt.Errorf("oidc userinfo claims: %w", err)
	}
	// OpenID Connect Core 1.0 §5.3.2: the UserInfo sub MUST match the ID
	// token's, or the response must not be used.
	if uc.Subject != idt.Subject {
		return nil, errors.New("oidc userinfo: sub differs from the id_token's")
	}
	return &uc, nil
}

// oidcButton is the provider's button on the sign-in page.
type oidcButton struct {
	Name, URL string
}

func oidcStartURL(ret string) string {
	return "/agents/connexion/oidc?retour=" + url.QueryEscape(safeReturn(ret))
}
