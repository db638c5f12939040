package webhook_test

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaFile is RDV Solidarités' webhook payload schema (see its $comment
// for where it comes from and the corrections taken from the blueprints).
const schemaFile = "testdata/rdv-solidarites-rdv-webhook.schema.json"

// rdvsSchemas compiles the schema once: the whole Rdv body, and the User
// definition for the data of User events.
var rdvsSchemas = sync.OnceValues(func() ([2]*jsonschema.Schema, error) {
	f, err := os.Open(schemaFile)
	if err != nil {
		return [2]*jsonschema.Schema{}, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return [2]*jsonschema.Schema{}, err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("rdvs.json", doc); err != nil {
		return [2]*jsonschema.Schema{}, err
	}
	rdvSchema, err := c.Compile("rdvs.json")
	if err != nil {
		return [2]*jsonschema.Schema{}, err
	}
	userSchema, err := c.Compile("rdvs.json#/$defs/user")
	return [2]*jsonschema.Schema{rdvSchema, userSchema}, err
})

// validateRdvs checks a body of format rdv-solidarites: an Rdv event
// against the schema, a User event's data against its User definition
// and its meta as RDV Solidarités writes it.
func validateRdvs(body []byte) error {
	schemas, err := rdvsSchemas()
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return err
	}
	env, _ := v.(map[string]any)
	meta, _ := env["meta"].(map[string]any)
	if meta["model"] != "User" {
		return schemas[0].Validate(v)
	}
	if _, ok := meta["webhook_reason"]; !ok || !slices.Contains([]any{"created", "updated", "destroyed"}, meta["event"]) {
		return fmt.Errorf("User event meta %v", meta)
	}
	if _, ok := meta["timestamp"].(string); !ok {
		return fmt.Errorf("User event meta %v", meta)
	}
	return schemas[1].Validate(env["data"])
}
