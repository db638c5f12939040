package notify

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// On Linux a spool file is not fsynced alone: syncSpoolDir's syncfs(2)
// writes the data and names of every file renamed before it, for a group of
// deliveries at once. (syncfs reports write-back errors since Linux 5.8.)
const syncEachSpoolFile = false

func syncSpoolDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("spool sync: %w", err)
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("spool sync: %w", err)
	}
	return nil
}
