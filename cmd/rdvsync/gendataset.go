package main

import (
	"fmt"
	"io"
	"os"

	"rdvsync/internal/dataset"
)

func runGenDataset(args []string, stdout, stderr io.Writer) (code int) {
	fs := newFlagSet("gen-dataset", stderr)
	out := fs.String("out", "", "write the YAML to this `file` (default: standard output)")
	seed := fs.Int64("seed", 1, "random `seed`; the same seed gives the same file")
	orgs := fs.Int("organisations", 0, "number of organisations (default 40)")
	agents := fs.Int("agents", 0, "number of agents (default 400)")
	plages := fs.Int("plages", 0, "number of plages d'ouverture (default 1200)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// The generator refuses impossible shapes (too few agents to staff
	// every organisation and service) by panicking: say so plainly.
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(stderr, "rdvsync gen-dataset: %v\n", p)
			code = 2
		}
	}()
	ds := dataset.Generate(*seed, dataset.Params{Organisations: *orgs, Agents: *agents, Plages: *plages})
	if *out == "" {
		stdout.Write(ds.YAML())
		return 0
	}
	if err := os.WriteFile(*out, ds.YAML(), 0o644); err != nil {
		fmt.Fprintf(stderr, "rdvsync gen-dataset: %v\n", err)
		return 1
	}
	c := ds.Catalog
	fmt.Fprintf(stdout, "%s: %d organisations, %d agents, %d motifs, %d plages, %d sectors (seed %d)\n",
		*out, len(c.Organisations), len(c.Agents), len(c.Motifs), len(c.Plages), len(c.Sectors), *seed)
	return 0
}
