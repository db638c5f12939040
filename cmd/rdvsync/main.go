// Command rdvsync is the prescription booking daemon and its admin tools.
// main only dispatches to subcommands; each one wires what it needs.
package main

import (
	"fmt"
	"io"
	"os"

	_ "time/tzdata" // organisations' IANA zones work in minimal images too
)

type command struct {
	name, usage string
	run         func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "run the daemon: HTTP API v1 (bookings, slots), health and metrics", runServe},
		{"check-config", "validate a configuration file and print a summary", runCheckConfig},
		{"slots", "print the bookable slots of a motif", runSlots},
		{"gen-dataset", "write a generated département-sized configuration (benchmarks, trials)", runGenDataset},
		{"webhooks-status", "outgoing webhook queues, last errors; -retry re-queues dead letters", runWebhooksStatus},
		{"rdvs-ids", "list the integer ids RDV Solidarités-format webhooks send for configured objects", runRdvsIDs},
		{"feed-url", "print (or -rotate) an agent's secret ICS feed address", runFeedURL},
		{"google-auth", "connect an agent's Google calendar (OAuth consent, token stored)", runGoogleAuth},
		{"sync-status", "show the external calendar sync state of every agent", runSyncStatus},
		{"sync-retry", "re-queue the calendar pushes that were given up (after fixing their cause)", runSyncRetry},
		{"check-store", "check the store file (pages, indexes, overlaps); exits 1 with a report on damage", runCheckStore},
		{"backup", "write a consistent copy of the store (-out FILE), also while the daemon runs", runBackup},
		{"compact", "rewrite the store file into full pages (daemon stopped): gives freed space back", runCompact},
		{"migrate-store", "copy a store file into an empty PostgreSQL database (-from FILE -to-dsn DSN), counts compared", runMigrateStore},
		{"healthcheck", "exit 0 when the daemon of a configuration answers /readyz (container HEALTHCHECK)", runHealthcheck},
		{"version", "print the version, VCS revision and Go version of this binary", runVersion},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "rdvsync: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: rdvsync <command> [flags]   (rdvsync <command> -h for its flags)")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.usage)
	}
}
