package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"rdvsync/internal/dataset"
	"rdvsync/internal/store"
)

func runGenDataset(args []string, stdout, stderr io.Writer) (code int) {
	def := dataset.DefaultParams()
	flags := newFlagSet("gen-dataset", stderr)
	out := flags.String("out", "", "write the YAML to this `file` (default: standard output)")
	storePath := flags.String("store", "", "also write the RDVs (and their usagers) into a new store `file`")
	seed := flags.Int64("seed", 1, "random `seed`; the same seed and sizes give the same file")
	p := dataset.Params{}
	flags.IntVar(&p.Organisations, "organisations", def.Organisations, "number of organisations")
	flags.IntVar(&p.Agents, "agents", def.Agents, "number of agents, at least organisations × 5 services")
	flags.IntVar(&p.Plages, "plages", def.Plages, "number of plages d'ouverture")
	flags.IntVar(&p.RDVs, "rdvs", def.RDVs, "number of RDVs booked over 6 months from 2027-01-04 (written with -store)")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "rdvsync gen-dataset: unexpected argument %q\n", flags.Arg(0))
		return 2
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"organisations", p.Organisations}, {"agents", p.Agents}, {"plages", p.Plages}, {"rdvs", p.RDVs}} {
		// Zero would mean "the default" to the generator: refuse it here.
		if f.v < 1 {
			fmt.Fprintf(stderr, "rdvsync gen-dataset: -%s %d: must be at least 1\n", f.name, f.v)
			return 2
		}
	}
	rdvsSet := false
	flags.Visit(func(f *flag.Flag) { rdvsSet = rdvsSet || f.Name == "rdvs" })
	if rdvsSet && *storePath == "" {
		fmt.Fprintf(stderr, "rdvsync gen-dataset: -rdvs needs -store: the RDVs are written into a store, not the YAML\n")
		return 2
	}
	if *storePath != "" {
		if _, err := os.Stat(*storePath); !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(stderr, "rdvsync gen-dataset: -store %s: the file exists; give a new file\n", *storePath)
			return 2
		}
	}
	if *storePath == "" {
		p.RDVs = 1 // the YAML alone: no need to place RDVs (0 would mean the default)
	}
	ds, err := dataset.New(*seed, p)
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync gen-dataset: %v\n", err)
		return 2
	}
	if *out == "" {
		stdout.Write(ds.YAML())
	} else if err := os.WriteFile(*out, ds.YAML(), 0o644); err != nil {
		fmt.Fprintf(stderr, "rdvsync gen-dataset: %v\n", err)
		return 1
	}
	// The summary goes to stderr when the YAML went to stdout.
	info := stdout
	if *out == "" {
		info = stderr
	}
	c := ds.Catalog
	fmt.Fprintf(info, "%s: %d organisations, %d agents, %d motifs, %d plages, %d sectors (seed %d)\n",
		cmp.Or(*out, "standard output"), len(c.Organisations), len(c.Agents), len(c.Motifs), len(c.Plages), len(c.Sectors), *seed)
	if *storePath == "" {
		return 0
	}
	st, err := store.Open(*storePath, store.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync gen-dataset: %v\n", err)
		return 1
	}
	err = ds.WriteStore(context.Background(), st, ds.Params.Start.At(0, c.Organisations[0].Location))
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync gen-dataset: %v\n", err)
		return 1
	}
	fmt.Fprintf(info, "%s: %d RDVs from %s\n", *storePath, len(ds.RDVs), ds.Params.Start)
	return 0
}
