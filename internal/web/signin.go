package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"rdvsync/internal/catalog"
	"rdvsync/internal/ratelimit"
)

// Agents sign in to the pages in one of three ways, all ending in the same
// agent session (signIn):
//
//   - OpenID Connect (oidc.go), when auth.oidc names the agents' provider;
//   - a one-time link sent to the agent's email (this file), for
//     structures without a provider;
//   - their id and API token, only when auth.token_sign_in is set (demos
//     and tests).

// SignInMailer sends an agent its sign-in link. notify.Service implements
// it with the notifications' email channel (SMTP or the mail spool).
type SignInMailer interface {
	SendSignInLink(ctx context.Context, a *catalog.Agent, link string, expires time.Time) error
}

// SignInLinkTTL is how long a sign-in link sent by email is valid.
const SignInLinkTTL = 15 * time.Minute

// signInLinkTimeout bounds sending one link.
const signInLinkTimeout = time.Minute

// maxPendingSignIns bounds the sign-in links, and the OpenID Connect
// sign-ins, waiting in the store.
const maxPendingSignIns = 10000

// newLinkThrottles are the limits of sign-in links: per client IP, 10
// requests then one a minute (a 429 page); per address, 3 links then one
// every 5 minutes, silently (the answer must not tell whether the address
// is an agent's).
func newLinkThrottles() (perIP, perAddress *ratelimit.Buckets) {
	return ratelimit.New(rate.Every(time.Minute), 10), ratelimit.New(rate.Every(5*time.Minute), 3)
}

// linkTicket is what a sign-in link stands for.
type linkTicket struct {
	AgentID string `json:"a"`
	Ret     string `json:"r"` // where to go once signed in
}

// signIn opens an agent session for a and sends the browser on to ret.
// A previous session of this browser ends.
func (w *Web) signIn(rw http.ResponseWriter, r *http.Request, c *reqCtx, a *catalog.Agent, method, ret string) {
	if c.session != "" {
		if err := w.sessions.delete(r.Context(), c.session); err != nil {
			w.internalError(rw, r, c, err)
			return
		}
	}
	id, err := w.sessions.put(r.Context(), a.ID, w.now(), AgentSessionTTL)
	if err != nil {
		w.internalError(rw, r, c, err)
		return
	}
	http.SetCookie(rw, w.cookie(agentCookie, id, AgentSessionTTL))
	w.log.Info("agent signed in", "agent_id", a.ID, "method", method)
	redirect(rw, r, safeReturn(ret))
}

// signInProblem is the page of a sign-in that did not succeed.
type signInProblem struct {
	Heading, Message string
	Detail           string // e.g. the address the provider gave
	Retry            string // the sign-in page
}

func (w *Web) renderSignInProblem(rw http.ResponseWriter, r *http.Request, c *reqCtx, status int, p signInProblem) {
	if p.Retry == "" {
		p.Retry = "/agents/connexion"
	}
	w.render(rw, r, c, status, "signin_problem", view{Title: p.Heading, Body: p})
}

// handleLinkRequest sends a sign-in link to the address typed, if it is an
// agent's. The answer is the same either way.
func (w *Web) handleLinkRequest(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	cat := c.cat
	if !cat.Config.Auth.EmailLinkEnabled() || w.mailer == nil {
		w.notFound(rw, r, c)
		return
	}
	addr := strings.TrimSpace(r.PostForm.Get("email"))
	ret := r.PostForm.Get("retour")
	now := time.Now()
	if ok, _ := w.linkPerIP.Take(clientKey(r, c), now); !ok {
		w.log.Warn("sign-in link throttled")
		lf := w.loginForm(c, ret, "")
		lf.Email.Value = addr
		lf.Email.Error = "Trop de demandes de lien depuis ce poste : réessayez dans quelques minutes."
		w.render(rw, r, c, http.StatusTooManyRequests, "login", view{Title: "Connexion agent", Errors: true, Body: lf})
		return
	}
	if p, err := mail.ParseAddress(addr); err != nil || p.Address != addr {
		lf := w.loginForm(c, ret, "")
		lf.Email.Value = addr
		lf.Email.Error = "Saisissez une adresse email valide, par exemple prenom.nom@departement.fr."
		w.render(rw, r, c, http.StatusUnprocessableEntity, "login", view{Title: "Connexion agent", Errors: true, Body: lf})
		return
	}
	if ok, _ := w.linkPerAddress.Take(strings.ToLower(addr), now); ok {
		if a := cat.AgentByEmail(addr); a != nil {
			w.sendLink(r.Context(), cat, a, ret)
		}
	}
	redirect(rw, r, "/agents/connexion?lien=envoye&retour="+url.QueryEscape(safeReturn(ret)))
}

// sendLink makes a link for a and sends it in the background, so that the
// page answers as fast for an unknown address. A link that cannot be made
// is logged, not shown: the answer must be the same as for an unknown
// address.
func (w *Web) sendLink(ctx context.Context, cat *catalog.Catalog, a *catalog.Agent, ret string) {
	now := w.now()
	id, err := w.links.put(ctx, linkTicket{AgentID: a.ID, Ret: safeReturn(ret)}, now, SignInLinkTTL)
	if errors.Is(err, errTooManyTickets) {
		w.log.Warn("too many sign-in links pending: none sent", "agent_id", a.ID)
		return
	}
	if err != nil {
		w.log.Error("making a sign-in link", "agent_id", a.ID, slog.Any("error", err))
		return
	}
	link := w.publicBase(cat) + "/agents/connexion/lien?jeton=" + url.QueryEscape(id)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), signInLinkTimeout)
		defer cancel()
		if err := w.mailer.SendSignInLink(ctx, a, link, now.Add(SignInLinkTTL)); err != nil {
			w.log.Error("sending a sign-in link", "agent_id", a.ID, slog.Any("error", err))
			return
		}
		w.log.Info("sign-in link sent", "agent_id", a.ID)
	}()
}

// linkPage is the page a sign-in link opens: a button that signs in. The
// link itself (a GET) signs nobody in, so that mail scanners following
// links do not spend it.
type linkPage struct {
	CSRF, Token, Name string
}

func (w *Web) expiredLink(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	w.renderSignInProblem(rw, r, c, http.StatusGone, signInProblem{Heading: "Lien de connexion expiré",
		Message: "Ce lien de connexion n'est plus valable : il a déjà servi, ou il a plus de 15 minutes. Demandez-en un nouveau."})
}

func (w *Web) handleLinkPage(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	if w.authBlocked(rw, r, c) {
		return
	}
	tok := r.URL.Query().Get("jeton")
	t, ok, err := w.links.get(r.Context(), tok, w.now())
	if err != nil {
		w.internalError(rw, r, c, err)
		return
	}
	a := c.cat.Agent(t.AgentID)
	if !ok || a == nil {
		w.authFailed(r, c)
		w.expiredLink(rw, r, c)
		return
	}
	w.render(rw, r, c, http.StatusOK, "signin_link", view{Title: "Connexion agent",
		Body: linkPage{CSRF: w.csrfToken(c.visitor, "/agents/connexion/lien/valider"), Token: tok, Name: a.FullName()}})
}

func (w *Web) handleLinkSignIn(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	if w.authBlocked(rw, r, c) {
		return
	}
	t, ok, err := w.links.take(r.Context(), r.PostForm.Get("jeton"), w.now())
	if err != nil {
		w.internalError(rw, r, c, err)
		return
	}
	a := c.cat.Agent(t.AgentID)
	if !ok || a == nil {
		w.authFailed(r, c)
		w.expiredLink(rw, r, c)
		return
	}
	w.signIn(rw, r, c, a, "email_link", t.Ret)
}
