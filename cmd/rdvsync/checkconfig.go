package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
)

// newFlagSet returns a flag set that prints its errors and usage to stderr
// and reports them instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("rdvsync "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// loadCatalog loads and validates a configuration, printing every problem.
func loadCatalog(path string, stderr io.Writer) (*catalog.Catalog, bool) {
	f, err := config.Load(path)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintln(stderr, e)
			}
			fmt.Fprintf(stderr, "%s: %d error(s)\n", path, len(errs))
		} else {
			fmt.Fprintf(stderr, "rdvsync: %v\n", err)
		}
		return nil, false
	}
	cat, err := catalog.Build(f)
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync: %v\n", err)
		return nil, false
	}
	return cat, true
}

func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check-config", stderr)
	path := fs.String("config", "config.yaml", "configuration `file`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cat, ok := loadCatalog(*path, stderr)
	if !ok {
		return 1
	}
	calendars := 0
	for _, a := range cat.Agents {
		if a.Calendar != nil {
			calendars++
		}
	}
	f := cat.Config
	fmt.Fprintf(stdout, "%s: OK\n", *path)
	fmt.Fprintf(stdout, "  %d territories, %d organisations, %d services, %d lieux, %d motifs\n",
		len(cat.Territories), len(cat.Organisations), len(cat.Services), len(cat.Lieux), len(cat.Motifs))
	fmt.Fprintf(stdout, "  %d agents (%d with an external calendar), %d plages d'ouverture, %d absences, %d sectors\n",
		len(cat.Agents), calendars, len(cat.Plages), len(cat.Absences), len(cat.Sectors))
	fmt.Fprintf(stdout, "  %d incoming and %d outgoing webhooks\n", len(f.Webhooks.Incoming), len(f.Webhooks.Outgoing))
	mail := "spooled to " + f.MailSpoolDir()
	if f.Notifications.Email.SMTP != nil {
		mail = fmt.Sprintf("SMTP %s:%d", f.Notifications.Email.SMTP.Host, f.Notifications.Email.SMTP.Port)
	}
	sms := "spooled to " + f.SMSSpoolDir()
	if f.Notifications.SMS.Webhook != nil {
		sms = "HTTP provider"
	}
	// StoreName: a connection string is printed without its password.
	fmt.Fprintf(stdout, "  store %s; email %s; SMS %s\n", f.StoreName(), mail, sms)
	return 0
}
