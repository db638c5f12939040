package served

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/rdv"
	"rdvsync/internal/store"
)

// feedStateName is the agent state document that holds the feed secret.
const feedStateName = "feed"

// secretBytes is the entropy of a feed secret: 256 bits.
const secretBytes = 32

type feedState struct {
	Secret    string    `json:"secret"`
	CreatedAt time.Time `json:"created_at"`
}

// FeedURL returns the URL of the agent's ICS feed, creating its secret on
// first use. An unknown agent is an error wrapping rdv.ErrNotFound.
func (s *Server) FeedURL(ctx context.Context, agentID string) (string, error) {
	return s.feedURL(ctx, agentID, false)
}

// RotateFeed gives the agent's feed a new secret and returns its URL; the
// previous URL answers 404 from then on.
func (s *Server) RotateFeed(ctx context.Context, agentID string) (string, error) {
	return s.feedURL(ctx, agentID, true)
}

// CalDAVURL is the URL of the agent's CalDAV calendar.
func (s *Server) CalDAVURL(agentID string) string {
	return publicURL(s.catalog()) + calendarPath(agentID)
}

func (s *Server) feedURL(ctx context.Context, agentID string, rotate bool) (string, error) {
	cat := s.catalog()
	if cat.Agent(agentID) == nil {
		return "", fmt.Errorf("served: agent %q: %w", agentID, rdv.ErrNotFound)
	}
	if err := s.loadIndex(ctx); err != nil {
		return "", err
	}
	fresh := newSecret()
	var secret, old string
	err := s.store.Update(ctx, func(tx *store.Tx) error {
		secret, old = fresh, ""
		var st feedState
		switch err := tx.AgentState(agentID, feedStateName, &st); {
		case err == nil && !rotate:
			secret = st.Secret
			return nil
		case err == nil:
			old = st.Secret
		case !store.IsNotFound(err):
			return err
		}
		return tx.PutAgentState(agentID, feedStateName, feedState{Secret: fresh, CreatedAt: s.now().UTC()})
	})
	if err != nil {
		return "", fmt.Errorf("served: feed secret of agent %s: %w", agentID, err)
	}
	s.mu.Lock()
	if old != "" {
		delete(s.feeds, sha256.Sum256([]byte(old)))
		s.log.Info("feed secret rotated", "agent_id", agentID)
	}
	s.feeds[sha256.Sum256([]byte(secret))] = agentID
	s.mu.Unlock()
	return publicURL(cat) + "/calendars/" + secret + ".ics", nil
}

func newSecret() string {
	b := make([]byte, secretBytes)
	rand.Read(b) // never fails (crypto/rand, Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// validSecret checks the shape of a secret before any lookup.
func validSecret(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(secretBytes) {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// loadIndex builds the secret index from the store once.
func (s *Server) loadIndex(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.feeds != nil {
		return nil
	}
	m := map[[32]byte]string{}
	err := s.store.View(ctx, func(tx *store.ReadTx) error {
		clear(m)
		return tx.EachAgentState(feedStateName, func(agentID string, decode func(any) error) error {
			var st feedState
			if err := decode(&st); err != nil {
				return fmt.Errorf("feed of agent %s: %w", agentID, err)
			}
			m[sha256.Sum256([]byte(st.Secret))] = agentID
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("served: index feed secrets: %w", err)
	}
	s.feeds = m
	return nil
}

// agentBySecret returns the id of the agent whose feed secret is secret, or
// an error wrapping rdv.ErrNotFound.
func (s *Server) agentBySecret(ctx context.Context, secret string) (string, error) {
	notFound := fmt.Errorf("served: feed: %w", rdv.ErrNotFound)
	if !validSecret(secret) {
		return "", notFound
	}
	if err := s.loadIndex(ctx); err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(secret))
	s.mu.Lock()
	agentID, ok := s.feeds[sum]
	s.mu.Unlock()
	if !ok {
		return "", notFound
	}
	// The index may lag behind a rotation: the store has the last word.
	var st feedState
	err := s.store.View(ctx, func(tx *store.ReadTx) error { return tx.AgentState(agentID, feedStateName, &st) })
	if store.IsNotFound(err) {
		return "", notFound
	}
	if err != nil {
		return "", fmt.Errorf("served: feed of agent %s: %w", agentID, err)
	}
	stored := sha256.Sum256([]byte(st.Secret))
	if subtle.ConstantTimeCompare(stored[:], sum[:]) != 1 {
		return "", notFound
	}
	return agentID, nil
}

// serveFeed serves GET /calendars/{secret}.ics. Nothing here logs the
// path: it is the secret.
func (s *Server) serveFeed(w http.ResponseWriter, r *http.Request) {
	secret, ok := strings.CutSuffix(r.PathValue("file"), ".ics")
	if !ok {
		http.Error(w, "Calendrier introuvable.", http.StatusNotFound)
		return
	}
	agentID, err := s.agentBySecret(r.Context(), secret)
	cat := s.catalog()
	a := cat.Agent(agentID)
	switch {
	case errors.Is(err, rdv.ErrNotFound), err == nil && a == nil:
		http.Error(w, "Calendrier introuvable.", http.StatusNotFound)
		return
	case err != nil:
		s.internalError(w, err)
		return
	}
	s.serveAgentICS(w, r, cat, a)
}

// serveAgentICS writes the agent's whole calendar: the feed, and GET on
// the CalDAV calendar collection.
func (s *Server) serveAgentICS(w http.ResponseWriter, r *http.Request, cat *catalog.Catalog, a *catalog.Agent) {
	entries, err := s.entries(r.Context(), cat, a)
	if err != nil {
		s.internalError(w, err)
		return
	}
	body, err := encode(feedCalendar(a, entries))
	if err != nil {
		s.internalError(w, err)
		return
	}
	serveICS(w, r, body, lastModified(entries))
}

func (s *Server) internalError(w http.ResponseWriter, err error) {
	s.log.Error("serving a calendar", slog.Any("error", err))
	http.Error(w, "Erreur interne, réessayez dans quelques instants.", http.StatusInternalServerError)
}

// FeedInfo is the body of GET /api/v1/agents/{id}/feed.
type FeedInfo struct {
	ICSURL    string `json:"ics_url"`
	CalDAVURL string `json:"caldav_url"`
}

// ServeFeedInfo serves FeedInfoPattern for caller, the agent authenticated
// by the API's Bearer token: its own feed and CalDAV URLs (creating the
// feed secret on first use), 403 for another agent, 404 for an unknown one.
func (s *Server) ServeFeedInfo(w http.ResponseWriter, r *http.Request, caller *catalog.Agent) {
	id := r.PathValue("id")
	if s.catalog().Agent(id) == nil {
		writeError(w, http.StatusNotFound, "not_found", "Agent inconnu.")
		return
	}
	if caller == nil || caller.ID != id {
		writeError(w, http.StatusForbidden, "forbidden", "Un agent ne consulte que les adresses de son propre agenda.")
		return
	}
	ics, err := s.FeedURL(r.Context(), id)
	if err != nil {
		s.log.Error("feed url", "agent_id", id, slog.Any("error", err))
		writeError(w, http.StatusInternalServerError, "internal", "Une erreur interne est survenue. Réessayez dans quelques instants.")
		return
	}
	writeJSON(w, http.StatusOK, FeedInfo{ICSURL: ics, CalDAVURL: s.CalDAVURL(id)})
}
