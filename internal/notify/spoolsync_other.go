//go:build !linux

package notify

import (
	"fmt"
	"os"
)

// Without syncfs(2), each spool file is fsynced before its rename and the
// directory after, for its new name.
const syncEachSpoolFile = true

func syncSpoolDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("spool sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool sync: %w", err)
	}
	return nil
}
