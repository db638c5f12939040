package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"rdvsync/internal/httpapi"
	"rdvsync/internal/rdv"
	"rdvsync/internal/slots"
)

var frenchWeekdays = [...]string{"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"}

func runSlots(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("slots", stderr)
	path := fs.String("config", "config.yaml", "configuration `file`")
	motifID := fs.String("motif", "", "motif `id` (required)")
	lieuID := fs.String("lieu", "", "only this lieu `id`")
	fromS := fs.String("from", "", "first `day` YYYY-MM-DD (default: today)")
	toS := fs.String("to", "", "last `day` YYYY-MM-DD, inclusive (default: from + 6 days)")
	agentView := fs.Bool("agent", false, "agent view: no booking delays, one slot per free agent, with the agent")
	asJSON := fs.Bool("json", false, "print exactly what GET /api/v1/slots returns")
	nowS := fs.String("now", "", "compute as if it were this `instant` (RFC 3339), e.g. to check delays before going live")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rdvsync slots -config FILE -motif ID [-lieu ID] [-from DATE] [-to DATE] [-agent] [-json] [-now INSTANT]")
		fmt.Fprintln(stderr, "Slots from the configuration alone: RDVs already booked in the store are not subtracted.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *motifID == "" {
		fmt.Fprintln(stderr, "rdvsync slots: -motif is required")
		return 2
	}
	cat, ok := loadCatalog(*path, stderr)
	if !ok {
		return 1
	}
	m := cat.Motif(*motifID)
	if m == nil {
		fmt.Fprintf(stderr, "rdvsync slots: unknown motif %q\n", *motifID)
		return 1
	}
	q := slots.Query{Motif: m, Now: time.Now(), AgentView: *agentView}
	if *nowS != "" {
		t, err := time.Parse(time.RFC3339, *nowS)
		if err != nil {
			fmt.Fprintf(stderr, "rdvsync slots: -now: %q is not an RFC 3339 instant (e.g. 2026-12-01T08:00:00+01:00)\n", *nowS)
			return 2
		}
		q.Now = t
	}
	if *agentView && len(m.Organisation.Agents) > 0 {
		q.Caller = m.Organisation.Agents[0] // an agent of the motif's organisation may book it whatever bookable_by says
	}
	if *lieuID != "" {
		if q.Lieu = cat.Lieu(*lieuID); q.Lieu == nil {
			fmt.Fprintf(stderr, "rdvsync slots: unknown lieu %q\n", *lieuID)
			return 1
		}
	}
	q.From = rdv.DateOf(q.Now.In(m.Organisation.Location))
	var err error
	if *fromS != "" {
		if q.From, err = rdv.ParseDate(*fromS); err != nil {
			fmt.Fprintf(stderr, "rdvsync slots: -from: %v\n", err)
			return 2
		}
	}
	q.To = q.From.AddDays(6)
	if *toS != "" {
		if q.To, err = rdv.ParseDate(*toS); err != nil {
			fmt.Fprintf(stderr, "rdvsync slots: -to: %v\n", err)
			return 2
		}
	}
	if q.To < q.From || int(q.To-q.From)+1 > slots.MaxWindowDays {
		fmt.Fprintf(stderr, "rdvsync slots: the window %s – %s must be 1 to %d days\n", q.From, q.To, slots.MaxWindowDays)
		return 2
	}
	found := slots.Search(cat, q)
	if *asJSON {
		return printJSON(stdout, stderr, httpapi.NewSlotsResponse(found))
	}
	if !slots.MayBook(q.Caller, m) {
		fmt.Fprintf(stderr, "motif %q is bookable by agents only (bookable_by: %s): use -agent to see its slots\n", m.ID, m.BookableBy)
	}
	fmt.Fprintf(stdout, "%s — %s (%d min), %s to %s, %s\n", m.Name, m.Organisation.Name, int(m.Duration.Minutes()), q.From, q.To, m.Organisation.Location)
	if len(found) == 0 {
		fmt.Fprintln(stdout, "no slot")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	header := "DAY\tDATE\tSTART\tEND\tLIEU"
	if *agentView {
		header += "\tAGENT"
	}
	fmt.Fprintln(tw, header)
	for _, s := range found {
		start, end := s.Start.In(m.Organisation.Location), s.End.In(m.Organisation.Location)
		lieu := "—"
		if s.Lieu != nil {
			lieu = s.Lieu.Name
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s", frenchWeekdays[start.Weekday()], start.Format(time.DateOnly), start.Format("15:04"), end.Format("15:04"), lieu)
		if *agentView {
			line += "\t" + s.Agent.FullName()
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d slot(s)\n", len(found))
	return 0
}
