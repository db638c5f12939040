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
		{"@every 1h", "idempotency-purge", func() {
			var n int
			err := st.Update(ctx, func(tx *store.Tx) error {
				var err error
				if n, err = tx.PurgeIdempotency(time.Now().Add(-booking.IdempotencyTTL)); err != nil {
					return err
				}
				_, err = tx.PurgeReminders(time.Now().AddDate(0, 0, -7))
				return err
			})
			if err != nil {
				d.log.Error("purging idempotency keys", slog.Any("error", err))
			} else if n > 0 {
				d.log.Info("idempotency keys purged", "count", n)
			}
		}},
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
