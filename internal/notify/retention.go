package notify

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"rdvsync/internal/config"
	"rdvsync/internal/store"
)

// spools are the spool folders of a configuration and the files each
// holds: mail as .eml, SMS as .txt. A folder is "" when there is none (a
// PostgreSQL store whose channel has a provider).
func spools(cfg *config.File) []struct{ dir, ext string } {
	return []struct{ dir, ext string }{{cfg.MailSpoolDir(), ".eml"}, {cfg.SMSSpoolDir(), ".txt"}}
}

// receiptBatch bounds the receipts scanned in one transaction.
const receiptBatch = 2000

// AnonymiseReceipts empties the error text and the agent of receipts made
// before cutoff (retention.receipts) and returns how many it changed.
func (s *Service) AnonymiseReceipts(ctx context.Context, cutoff time.Time) (int, error) {
	total, from := 0, ""
	for {
		var n int
		var next string
		err := s.store.Update(ctx, func(tx *store.Tx) error {
			var err error
			n, next, err = tx.AnonymiseReceipts(cutoff, from, receiptBatch)
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		if from = next; next == "" {
			break
		}
	}
	if total > 0 {
		s.log.Info("retention: receipts anonymised", "count", total)
	}
	return total, nil
}

// PurgeSpool removes the spooled mail (.eml) and SMS (.txt) files last
// written before cutoff (retention.spool), and returns how many. Other
// files (an operator's notes, half-written temporary files) are left.
func (s *Service) PurgeSpool(cutoff time.Time) (int, error) {
	n := 0
	for _, sp := range spools(s.catalog().Config) {
		dir := sp.dir
		if dir == "" {
			continue
		}
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("spool: %w", err)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || filepath.Ext(e.Name()) != sp.ext {
				continue
			}
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return n, fmt.Errorf("spool: %w", err)
			}
			if !info.ModTime().Before(cutoff) {
				continue
			}
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return n, fmt.Errorf("spool: %w", err)
			}
			n++
		}
	}
	if n > 0 {
		s.log.Info("retention: spooled messages removed", "count", n)
	}
	return n, nil
}
