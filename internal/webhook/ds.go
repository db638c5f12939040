package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"rdvsync/internal/config"
	"rdvsync/internal/rdv"
)

// Démarches Simplifiées (DS) calls a procedure's « lien de rappel HTTP »
// on every change of a dossier's state with a form-urlencoded POST of
// procedure_id, dossier_id, state and updated_at, and nothing that proves
// it comes from DS. rdvsync takes the callback only as a hint: it reads
// the dossier back from DS's GraphQL API (API v2) with the procedure's
// token, and books only what the API confirms — the dossier exists, belongs
// to the configured procedure and is in the configured state.

// DSCallback is a parsed callback.
type DSCallback struct {
	Procedure int
	Dossier   int
	State     string
}

// ErrDSCallback refuses a callback whose parameters are missing or malformed.
var ErrDSCallback = errors.New("malformed Démarches Simplifiées callback (procedure_id, dossier_id, state)")

// ParseDSCallback reads a callback's parameters from the form body (or
// the query string, where DS's documentation shows them too).
func ParseDSCallback(r *http.Request) (DSCallback, error) {
	if err := r.ParseForm(); err != nil {
		return DSCallback{}, ErrDSCallback
	}
	var c DSCallback
	var err1, err2 error
	c.Procedure, err1 = strconv.Atoi(r.Form.Get("procedure_id"))
	c.Dossier, err2 = strconv.Atoi(r.Form.Get("dossier_id"))
	c.State = r.Form.Get("state")
	if err1 != nil || err2 != nil || c.Procedure <= 0 || c.Dossier <= 0 || c.State == "" {
		return DSCallback{}, ErrDSCallback
	}
	return c, nil
}

// Dossier is what the API says of a dossier.
type Dossier struct {
	Number   int
	State    string
	Demarche int
	// Document is the dossier object of the API's answer, for the
	// source's mapping (champs by label: /champs/label=Prénom/stringValue).
	Document []byte
}

// dsQuery reads one dossier: its state, its procedure (démarche), the
// email of the account that filed it, and its champs with their labels.
const dsQuery = `query getDossier($dossierNumber: Int!) {
  dossier(number: $dossierNumber) {
    id
    number
    state
    dateDepot
    dateDerniereModification
    demarche { number }
    usager { email }
    champs { id label stringValue }
  }
}`

// ErrDSUnavailable is a failure to read the dossier that a later callback
// may not have: the API unreachable, 5xx, 429, or an answer it should not give.
var ErrDSUnavailable = errors.New("the Démarches Simplifiées API is unavailable")

// ErrDSRefused is an answer of the API that says the token cannot read the
// dossier (401, 403): a configuration problem, not a passing one.
var ErrDSRefused = errors.New("the Démarches Simplifiées API refused the procedure's token")

// Dossiers reads dossiers from DS's API, through the same guarded client
// as outgoing webhooks: no proxy, no redirects, and no loopback or private
// address unless the procedure allows it.
type Dossiers struct {
	clients guarded
}

// dsTimeout bounds one API call.
const dsTimeout = 15 * time.Second

// NewDossiers returns the API client.
func NewDossiers() *Dossiers {
	return &Dossiers{clients: newGuarded(dsTimeout)}
}

// Fetch reads dossier number of procedure p. A dossier the API does not
// know is an error wrapping rdv.ErrNotFound.
func (d *Dossiers) Fetch(ctx context.Context, p *config.DSProcedure, number int) (*Dossier, error) {
	body, err := json.Marshal(map[string]any{
		"query": dsQuery, "operationName": "getDossier", "variables": map[string]any{"dossierNumber": number},
	})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.APIURL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDSUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+string(p.APIToken))
	resp, err := d.clients.do(req, p.AllowPrivate)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDSUnavailable, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the answer: %v", ErrDSUnavailable, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("%w (HTTP %d)", ErrDSRefused, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: HTTP %d", ErrDSUnavailable, resp.StatusCode)
	}
	var ans struct {
		Data struct {
			Dossier json.RawMessage `json:"dossier"`
		} `json:"data"`
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return nil, fmt.Errorf("%w: the answer is not GraphQL JSON", ErrDSUnavailable)
	}
	for _, e := range ans.Errors {
		switch e.Extensions.Code {
		case "not_found":
			return nil, fmt.Errorf("dossier %d: %w", number, rdv.ErrNotFound)
		case "unauthorized", "forbidden":
			return nil, fmt.Errorf("%w: %s", ErrDSRefused, e.Extensions.Code)
		}
	}
	if len(ans.Errors) > 0 {
		return nil, fmt.Errorf("%w: GraphQL error %q", ErrDSUnavailable, ans.Errors[0].Extensions.Code)
	}
	if len(ans.Data.Dossier) == 0 || string(ans.Data.Dossier) == "null" {
		return nil, fmt.Errorf("dossier %d: %w", number, rdv.ErrNotFound)
	}
	var dos struct {
		Number   int    `json:"number"`
		State    string `json:"state"`
		Demarche struct {
			Number int `json:"number"`
		} `json:"demarche"`
	}
	if err := json.Unmarshal(ans.Data.Dossier, &dos); err != nil {
		return nil, fmt.Errorf("%w: unexpected dossier shape", ErrDSUnavailable)
	}
	return &Dossier{Number: dos.Number, State: strings.ToLower(dos.State), Demarche: dos.Demarche.Number, Document: ans.Data.Dossier}, nil
}

// Confirms reports why the dossier read from the API does not confirm a
// callback for procedure p, or "" when it does: the dossier is the one
// called back, of p's procedure, in the state that books.
func (d *Dossier) Confirms(p *config.DSProcedure, c DSCallback) string {
	switch {
	case d.Number != c.Dossier:
		return "the API answered about another dossier"
	case d.Demarche != p.Procedure:
		return "the dossier belongs to another procedure"
	case d.State != p.State:
		return "the dossier is in state " + d.State + ", not " + p.State
	}
	return ""
}

// DSIdempotencyKey is the replay key of a dossier: one RDV per dossier,
// however many callbacks DS sends about it.
func DSIdempotencyKey(c DSCallback) (key string, body []byte) {
	k := "dossier-" + strconv.Itoa(c.Dossier)
	return k, []byte(strconv.Itoa(c.Procedure) + "/" + k)
}
