package config

import (
	"fmt"
	"strings"
)

// MappingTargets are the booking-body fields (DESIGN §5) an incoming
// webhook's mapping may fill. starts_at.date and starts_at.time let a
// form with separate date and time questions give the start: they are
// read as a wall-clock time in the motif's organisation's zone.
var MappingTargets = []string{
	"motif_id", "lieu_id", "agent_id", "starts_at", "starts_at.date", "starts_at.time", "context",
	"usager.first_name", "usager.last_name", "usager.email", "usager.phone_number", "usager.address",
	"usager.postal_code", "usager.city_code", "usager.street_ban_id", "usager.birth_date",
	"prescripteur.first_name", "prescripteur.last_name", "prescripteur.email", "prescripteur.phone_number",
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
}
