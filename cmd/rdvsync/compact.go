package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"rdvsync/internal/store"
)

// runCompact rewrites the store file into full pages, offline: bbolt never
// gives freed pages back to the file system, so a store that shrank
// (retention, purges) or grew by random inserts keeps its size until
// compacted. The daemon must be stopped (its lock is checked); the copy
// is checked before it replaces the file.
func runCompact(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("compact", stderr)
	sf := addStoreFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	path, ok := sf.path("compact", stderr)
	if !ok {
		return 1
	}
	before, err := os.Stat(path)
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync compact: %v\n", err)
		return 1
	}
	tmp := path + ".compact"
	done, err := store.Compact(path, tmp)
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync compact: %v\n", err)
		return 1
	}
	rep, err := store.Check(tmp)
	if err == nil && !rep.OK() {
		err = fmt.Errorf("the compacted copy is not sound (%d problem(s), first: %s); the store is unchanged", len(rep.Problems)+rep.More, rep.Problems[0])
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(path)
	}
	if derr := done(); err == nil {
		err = derr
	}
	if err != nil {
		os.Remove(tmp)
		fmt.Fprintf(stderr, "rdvsync compact: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "store %s compacted: %d → %d bytes (%d RDVs, %d usagers), check passed\n",
		path, before.Size(), rep.SizeBytes, rep.RDVs, rep.Usagers)
	return 0
}

// syncDir makes the rename of path durable: fsync of its directory.
func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
