package calsync

import (
	"context"
	"fmt"

	"golang.org/x/oauth2"

	"rdvsync/connectors"
	"rdvsync/internal/store"
)

// TokenStore keeps agents' Google OAuth tokens in the store, so refreshed
// and rotated tokens survive restarts.
type TokenStore struct{ Store *store.Store }

var _ connectors.TokenStore = TokenStore{}

const tokenState = "google_token"

// LoadToken implements connectors.TokenStore.
func (t TokenStore) LoadToken(ctx context.Context, agentID string) (*oauth2.Token, error) {
	var tok oauth2.Token
	err := t.Store.View(ctx, func(tx *store.ReadTx) error { return tx.AgentState(agentID, tokenState, &tok) })
	if store.IsNotFound(err) {
		return nil, fmt.Errorf("agent %s: %w (run rdvsync google-auth -agent %s)", agentID, connectors.ErrNoToken, agentID)
	}
	if err != nil {
		return nil, err
	}
	return &tok, nil
}

// SaveToken implements connectors.TokenStore.
func (t TokenStore) SaveToken(ctx context.Context, agentID string, tok *oauth2.Token) error {
	return t.Store.Update(ctx, func(tx *store.Tx) error { return tx.PutAgentState(agentID, tokenState, tok) })
}
