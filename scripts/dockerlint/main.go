// Command dockerlint checks a Dockerfile with the rules of BuildKit's
// linter, the ones `docker build --check` applies
// (https://docs.docker.com/reference/build-checks/), without a Docker
// engine and without the network: base images are not resolved. It prints
// each warning as FILE:LINE: RULE: message (URL) and exits 1 when there is
// any, 2 when the file cannot be read or parsed.
//
// It is its own module (scripts/dockerlint/go.mod) so that BuildKit stays
// out of rdvsync's dependencies; `make lint-docker` runs it.
//
// Usage: go run . ../../Dockerfile
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	digest "github.com/opencontainers/go-digest"
)

// offline answers every base image with an empty configuration: the checks
// are about the Dockerfile, and tests talk only to loopback.
type offline struct{}

func (offline) ResolveImageConfig(ctx context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	return ref, digest.FromString(ref), []byte(`{"architecture":"amd64","os":"linux","config":{}}`), nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: dockerlint FILE")
		os.Exit(2)
	}
	name := os.Args[1]
	dt, err := os.ReadFile(name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dockerlint: %v\n", err)
		os.Exit(2)
	}
	sm := llb.NewSourceMap(nil, name, "Dockerfile", dt)
	sm.Definition = &llb.Definition{}
	res, err := dockerfile2llb.DockerfileLint(context.Background(), dt, dockerfile2llb.ConvertOpt{
		Config: dockerui.Config{}, SourceMap: sm, MetaResolver: offline{},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "dockerlint: %v\n", err)
		os.Exit(2)
	}
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil && len(w.Location.Ranges) > 0 {
			line = int(w.Location.Ranges[0].Start.Line)
		}
		fmt.Printf("%s:%d: %s: %s (%s)\n", name, line, w.RuleName, w.Detail, w.URL)
	}
	if res.Error != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", name, res.Error.Message)
		os.Exit(2)
	}
	if len(res.Warnings) > 0 {
		os.Exit(1)
	}
	fmt.Printf("%s: no problem found by the BuildKit build checks\n", name)
}
