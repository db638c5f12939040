package config

import (
	"fmt"
	"slices"
	"strings"
)

// MappingTargets are the booking-body fields (docs/design.md §5) an incoming
// webhook's mapping may fill. starts_at.date and starts_at.time let a
// form with separate date and time questions give the start: they are
// read as a wall-clock time in the motif's organisation's zone.
//
// starts_at may be the constant "=first_available" (FirstAvailable): the
// first free slot is booked, from not_before (a date or date-time answer)
// when the mapping gives it.
var MappingTargets = []string{
	"motif_id", "lieu_id", "agent_id", "starts_at", "starts_at.date", "starts_at.time", "not_before", "context",
	"usager.first_name", "usager.last_name", "usager.email", "usager.phone_number", "usager.address",
	"usager.postal_code", "usager.city_code", "usager.street_ban_id", "usager.birth_date",
	"prescripteur.first_name", "prescripteur.last_name", "prescripteur.email", "prescripteur.phone_number",
}

// FirstAvailable is the mapping constant of starts_at that books the
// first free slot.
const FirstAvailable = "=first_available"

// Signature schemes of incoming sources.
const (
	SignatureStandardWebhooks     = "standard-webhooks"
	SignatureTally                = "tally"
	SignatureTypeform             = "typeform"
	SignatureDemarchesSimplifiees = "demarches-simplifiees"
)

// IncomingSignatures lists the schemes, the default first.
var IncomingSignatures = []string{SignatureStandardWebhooks, SignatureTally, SignatureTypeform, SignatureDemarchesSimplifiees}

// DSDefaultAPIURL is Démarches Simplifiées' GraphQL endpoint (API v2).
const DSDefaultAPIURL = "https://www.demarches-simplifiees.fr/api/v2/graphql"

// DSStates are the dossier states a procedure may book on: the callback
// fires on each change of state; brouillon never calls back, and the
// closing states (refuse, sans_suite) say the dossier was not accepted.
var DSStates = []string{"en_construction", "en_instruction", "accepte"}

// incoming checks one source: its scheme, the secret the scheme needs,
// the Démarches Simplifiées procedure, the mapping.
func (v *validator) incoming(p string, in *IncomingWebhook) {
	if in.Signature == "" {
		in.Signature = SignatureStandardWebhooks
	}
	if !slices.Contains(IncomingSignatures, in.Signature) {
		v.errorf(p+".signature", "%q is not a signature scheme (use one of: %s)", in.Signature, strings.Join(IncomingSignatures, ", "))
		return
	}
	switch in.Signature {
	case SignatureStandardWebhooks:
		in.Secret = v.secret(p, "secret", in.SecretFile, in.SecretEnv, true)
		if in.Secret != "" {
			if _, err := DecodeWebhookSecrets(string(in.Secret)); err != nil {
				v.errorf(p+".secret_file", "%v", err)
			}
		}
	case SignatureTally, SignatureTypeform:
		// The tool's signing secret as it shows it, several separated
		// by whitespace during a rotation.
		in.Secret = v.secret(p, "secret", in.SecretFile, in.SecretEnv, true)
	case SignatureDemarchesSimplifiees:
		if in.SecretFile != "" || in.SecretEnv != "" {
			v.errorf(p+".secret_file", "Démarches Simplifiées does not sign its callbacks: give demarches_simplifiees.api_token_file instead")
		}
		v.dsProcedure(p+".demarches_simplifiees", in.DemarchesSimplifiees)
	}
	if in.DemarchesSimplifiees != nil && in.Signature != SignatureDemarchesSimplifiees {
		v.errorf(p+".demarches_simplifiees", "only with signature: %s", SignatureDemarchesSimplifiees)
	}
	if in.Signature != SignatureStandardWebhooks && len(in.Mapping) == 0 {
		v.errorf(p+".mapping", "required with signature: %s (the payload is the tool's, not a booking body)", in.Signature)
	}
	v.checkMapping(p, in.Mapping)
}

func (v *validator) dsProcedure(p string, ds *DSProcedure) {
	if ds == nil {
		v.errorf(p, "required with signature: %s (procedure, api_token_file)", SignatureDemarchesSimplifiees)
		return
	}
	if ds.Procedure <= 0 {
		v.errorf(p+".procedure", "required: the procedure's number (the procedure_id of its callbacks)")
	}
	if ds.State == "" {
		ds.State = DSStates[0]
	}
	if !slices.Contains(DSStates, ds.State) {
		v.errorf(p+".state", "%q is not a dossier state that can book (use one of: %s)", ds.State, strings.Join(DSStates, ", "))
	}
	if ds.APIURL == "" {
		ds.APIURL = DSDefaultAPIURL
	}
	v.httpURL(p+".api_url", ds.APIURL)
	ds.APIToken = v.secret(p, "api_token", ds.APITokenFile, ds.APITokenEnv, true)
}

// DecodeWebhookSecrets decodes a secret file holding one or more Standard
// Webhooks secrets separated by spaces or newlines (secret rotation: the
// new one and the old one are both accepted while senders switch).
func DecodeWebhookSecrets(s string) ([][]byte, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, fmt.Errorf("the secret is empty")
	}
	keys := make([][]byte, 0, len(fields))
	for i, f := range fields {
		k, err := DecodeWebhookSecret(f)
		if err != nil {
			if len(fields) > 1 {
				return nil, fmt.Errorf("secret %d of %d: %w", i+1, len(fields), err)
			}
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// checkMapping checks an incoming webhook's mapping: each key is a booking
// field, each value a JSON pointer into the sender's payload ("/…") or a
// constant ("=…").
func (v *validator) checkMapping(p string, m map[string]string) {
	for target, src := range m {
		path := p + ".mapping." + target
		known := false
		for _, t := range MappingTargets {
			known = known || t == target
		}
		if !known {
			v.errorf(path, "%q is not a booking field (use one of: %s)", target, strings.Join(MappingTargets, ", "))
			continue
		}
		if !strings.HasPrefix(src, "/") && !strings.HasPrefix(src, "=") {
			v.errorf(path, "%q is neither a JSON pointer (/answers/0/value) nor a constant (=rsa-orientation)", src)
		}
	}
	first := m["starts_at"] == FirstAvailable
	if first && (m["starts_at.date"] != "" || m["starts_at.time"] != "") {
		v.errorf(p+".mapping.starts_at", "%q books the first free slot: remove starts_at.date and starts_at.time", FirstAvailable)
	}
	if m["not_before"] != "" && !first {
		v.errorf(p+".mapping.not_before", "only with starts_at: %q", FirstAvailable)
	}
}
