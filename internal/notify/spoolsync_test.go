package notify

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// recordSyncs replaces the spool's sync with one that records which files
// the directory held when each sync started, after a pause that lets
// writers pile up behind it; err, when set, is what it returns.
func recordSyncs(t *testing.T, err error) (snapshots func() [][]string) {
	t.Helper()
	var mu sync.Mutex
	var snaps [][]string
	old := spoolSyncs
	spoolSyncs = &groupSyncs{syncs: map[string]*groupSync{}, sync: func(dir string) error {
		entries, rerr := os.ReadDir(dir)
		if rerr != nil {
			return rerr
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		snaps = append(snaps, names)
		mu.Unlock()
		return err
	}}
	t.Cleanup(func() { spoolSyncs = old })
	return func() [][]string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(snaps)
	}
}

// Every spool file is written, renamed, then covered by a sync that started
// after its rename before writeSpool returns (and so before its receipt);
// writers running at once share syncs.
func TestSpoolFilesAreSyncedInGroupsAfterTheirRename(t *testing.T) {
	snapshots := recordSyncs(t, nil)
	dir := t.TempDir()
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("m%02d.eml", i)
			if err := writeSpool(dir, name, func(f io.Writer) error { _, err := io.WriteString(f, "Subject: x\r\n"); return err }); err != nil {
				errs <- err
				return
			}
			for _, s := range snapshots() {
				if slices.Contains(s, name) {
					return
				}
			}
			errs <- fmt.Errorf("%s: writeSpool returned before a sync that saw it", name)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(snapshots()); got == 0 || got >= n {
		t.Errorf("%d syncs for %d files written at once, want fewer syncs than files", got, n)
	}
	for i := range n {
		if b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("m%02d.eml", i))); err != nil || string(b) != "Subject: x\r\n" {
			t.Errorf("file %d: %q, %v", i, b, err)
		}
	}
}

// A failed sync fails every write it covered: no receipt says ok for a file
// that might not be on disk, and the outbox writes it again.
func TestSpoolSyncFailureFailsTheWrites(t *testing.T) {
	recordSyncs(t, errors.New("EIO"))
	dir := t.TempDir()
	var wg sync.WaitGroup
	var failed sync.Map
	for i := range 8 {
		wg.Go(func() {
			err := writeSpool(dir, fmt.Sprintf("m%d.txt", i), func(f io.Writer) error { _, err := io.WriteString(f, "x"); return err })
			failed.Store(i, err != nil)
		})
	}
	wg.Wait()
	for i := range 8 {
		if ok, _ := failed.Load(i); ok != true {
			t.Errorf("write %d succeeded although its sync failed", i)
		}
	}
}

// The real sync (syncfs on Linux) runs on a spool directory.
func TestSpoolSyncOnDisk(t *testing.T) {
	dir := t.TempDir()
	if err := writeSpool(dir, "a.eml", func(f io.Writer) error { _, err := io.WriteString(f, "a"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := syncSpoolDir(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("sync of a missing directory succeeded")
	}
}
