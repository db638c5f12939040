package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"rdvsync/internal/booking"
	"rdvsync/internal/config"
	"rdvsync/internal/notify"
	"rdvsync/internal/store"
)

// schedule registers the cron jobs of the daemon (robfig/cron, one
// goroutine per run, skipped while the previous run of the same job is
// still going).
func (d *daemon) schedule(ctx context.Context, st *store.Store, svc *booking.Service, notifier *notify.Service) (*cron.Cron, error) {
	logger := cron.VerbosePrintfLogger(slog.NewLogLogger(d.log.With("component", "cron").Handler(), slog.LevelDebug))
	c := cron.New(cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)))
	jobs := []struct {
		spec, name string
		run        func()
	}{
		{"@every 1m", "reminders", func() { sendReminders(ctx, d, notifier) }},
		{"@every 1m", "erasures", func() {
			if _, err := svc.FinishErasures(ctx); err != nil && ctx.Err() == nil {
				d.log.Error("finishing usager erasures", slog.Any("error", err))
			}
		}},
		// Once a day, at a quiet hour of the daemon's local time.
		{"30 3 * * *", "retention", func() { retain(ctx, d.log, d.catalog.Load().Config.Retention, svc, notifier) }},
		{"@every 1h", "idempotency-purge", func() { purgeExpired(ctx, d.log, st, time.Now()) }},
	}
	for _, j := range jobs {
		if _, err := c.AddFunc(j.spec, j.run); err != nil {
			return nil, fmt.Errorf("cron job %s: %w", j.name, err)
		}
	}
	// At start, not only after the first period: the reminders that fell
	// due while the daemon was down. (Busy times have their own loop,
	// calsync.RunBusyRefresh: its period is reloadable and a reload asks
	// it for the calendars it changed.)
	go sendReminders(ctx, d, notifier)
	go retain(ctx, d.log, d.catalog.Load().Config.Retention, svc, notifier)
	return c, nil
}

// purgeExpired deletes what has outlived its use at now: idempotency
// records, the traces of sent reminders, and the booking pages' expired
// tickets (agent sessions, sign-in links, OpenID Connect sign-ins), which
// no request accepts any more but which would otherwise stay in the store.
func purgeExpired(ctx context.Context, log *slog.Logger, st *store.Store, now time.Time) {
	var keys, tickets int
	err := st.Update(ctx, func(tx *store.Tx) error {
		var err error
		if keys, err = tx.PurgeIdempotency(now.Add(-booking.IdempotencyTTL)); err != nil {
			return err
		}
		if _, err = tx.PurgeReminders(now.AddDate(0, 0, -7)); err != nil {
			return err
		}
		tickets, err = tx.PurgeTickets(now)
		return err
	})
	if err != nil {
		log.Error("purging idempotency keys, reminders and tickets", slog.Any("error", err))
		return
	}
	if keys > 0 {
		log.Info("idempotency keys purged", "count", keys)
	}
	if tickets > 0 {
		log.Info("expired sessions and sign-in links purged", "count", tickets)
	}
}

// retain applies the retention limits at the booking service's time: old
// RDVs and usagers deleted, old receipts anonymised, old spooled messages
// removed. Each part runs even when another fails.
func retain(ctx context.Context, log *slog.Logger, r config.Retention, svc *booking.Service, notifier *notify.Service) {
	now := svc.Now()
	if _, err := svc.PurgeRDVs(ctx, r.RDVs.Before(now)); err != nil && ctx.Err() == nil {
		log.Error("retention: deleting old rdvs", slog.Any("error", err))
	}
	if _, err := notifier.AnonymiseReceipts(ctx, r.Receipts.Before(now)); err != nil && ctx.Err() == nil {
		log.Error("retention: anonymising receipts", slog.Any("error", err))
	}
	if _, err := notifier.PurgeSpool(r.Spool.Before(now)); err != nil {
		log.Error("retention: removing spooled messages", slog.Any("error", err))
	}
}

func sendReminders(ctx context.Context, d *daemon, notifier *notify.Service) {
	n, err := notifier.SendDueReminders(ctx)
	if err != nil && ctx.Err() == nil {
		d.log.Error("sending due reminders", slog.Any("error", err))
	} else if n > 0 {
		d.log.Info("reminders queued", "count", n)
	}
}
