package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/store"
	"rdvsync/internal/webhook"
)

// runWebhooksStatus shows every outgoing webhook endpoint's queue and last
// errors; -retry re-queues its dead letters after the cause is fixed.
func runWebhooksStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("webhooks-status", stderr)
	path := fs.String("config", "config.yaml", "configuration `file`")
	storePath := fs.String("store", "", "bbolt `file`, overriding store.path")
	asJSON := fs.Bool("json", false, "print JSON")
	retry := fs.String("retry", "", "re-queue the dead letters of this endpoint `id` (\"all\" for every endpoint)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *retry != "" {
		id := *retry
		if id == "all" {
			id = ""
		}
		var res struct {
			Requeued int `json:"requeued"`
		}
		ok := adminCallBody(*path, *storePath, stderr, func(ctx context.Context, cat *catalog.Catalog, st *store.Store) (any, error) {
			n, err := webhook.RetryDead(ctx, st, id, time.Now())
			return map[string]int{"requeued": n}, err
		}, http.MethodPost, "/admin/v1/webhooks/retry?endpoint="+url.QueryEscape(id), nil, &res)
		if !ok {
			return 1
		}
		fmt.Fprintf(stdout, "%d webhook queue(s) re-queued\n", res.Requeued)
		return 0
	}
	if !storeExists(*path, *storePath, stderr) {
		return 1
	}
	var list []webhook.EndpointStatus
	ok := adminCallBody(*path, *storePath, stderr, func(ctx context.Context, cat *catalog.Catalog, st *store.Store) (any, error) {
		return webhook.Status(ctx, st, cat)
	}, http.MethodGet, "/admin/v1/webhooks", nil, &list)
	if !ok {
		return 1
	}
	if *asJSON {
		return printJSON(stdout, stderr, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no outgoing webhook configured")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENDPOINT\tURL\tPENDING\tFAILING\tDEAD\tLAST SUCCESS\tLAST ERROR")
	dead := 0
	for _, e := range list {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", e.ID, e.URL, e.Pending, e.Failing, e.Dead, localTime(e.LastSuccessAt), oneLine(e.LastError))
		dead += e.Dead
	}
	tw.Flush()
	if dead > 0 {
		fmt.Fprintln(stdout, "fix the cause, then: rdvsync webhooks-status -config", *path, "-retry all")
	}
	return 0
}

// rdvsIDs is the integer id of every configured object, then those of
// objects no longer configured (kept, should they come back).
func rdvsIDs(ctx context.Context, cat *catalog.Catalog, st *store.Store) ([]webhook.IDMapping, error) {
	list, err := webhook.AssignIDs(ctx, st, cat)
	if err != nil {
		return nil, err
	}
	gone, err := webhook.UnconfiguredIDs(ctx, st, cat)
	return append(list, gone...), err
}

// runRdvsIDs lists the integer ids RDV Solidarités-format webhooks send for
// organisations, services, lieux, motifs and agents.
func runRdvsIDs(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("rdvs-ids", stderr)
	path := fs.String("config", "config.yaml", "configuration `file`")
	storePath := fs.String("store", "", "bbolt `file`, overriding store.path")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var list []webhook.IDMapping
	ok := adminCallBody(*path, *storePath, stderr, func(ctx context.Context, cat *catalog.Catalog, st *store.Store) (any, error) {
		return rdvsIDs(ctx, cat, st)
	}, http.MethodGet, "/admin/v1/rdvs-ids", nil, &list)
	if !ok {
		return 1
	}
	if *asJSON {
		return printJSON(stdout, stderr, list)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tID\tRDVS_ID\tSOURCE")
	for _, m := range list {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", m.Kind, m.ID, m.RdvsID, m.Source)
	}
	tw.Flush()
	return 0
}
