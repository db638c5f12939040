package main

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestContainerFiles checks what makes the image safe by default, from the
// files the Docker engine reads (scripts/check-docker.sh builds or lints
// them): the build context leaves out the store, the spooled messages and
// the history; the image has no configuration of its own, keeps the store
// path in the mounted configuration (so `docker exec rdvsync rdvsync
// sync-status -config …` finds it) and checks its own health; the
// single-daemon compose file mounts a configuration and a volume.
func TestContainerFiles(t *testing.T) {
	f, err := os.Open("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ignored []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			ignored = append(ignored, line)
		}
	}
	for _, want := range []string{"data/", "**/*.db", "**/*.eml", ".git/", "bin/", "node_modules/", "secrets/"} {
		if !slices.Contains(ignored, want) {
			t.Errorf(".dockerignore does not leave out %s", want)
		}
	}

	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(dockerfile)
	if regexp.MustCompile(`(?m)^COPY .*\.ya?ml`).MatchString(df) {
		t.Error("the Dockerfile copies a configuration into the image")
	}
	cmd := regexp.MustCompile(`(?m)^CMD (.*)$`).FindStringSubmatch(df)
	if cmd == nil || strings.Contains(cmd[1], "-store") || strings.Contains(cmd[1], "-listen") || strings.Contains(cmd[1], "-demo") {
		t.Errorf("CMD %q: the store path and the listen address belong in the configuration", cmd)
	}
	if !regexp.MustCompile(`(?m)^HEALTHCHECK .*\n?.*"healthcheck"`).MatchString(df) {
		t.Error("the Dockerfile has no HEALTHCHECK running rdvsync healthcheck")
	}

	var compose struct {
		Services map[string]struct {
			Volumes []string `yaml:"volumes"`
			Ports   []string `yaml:"ports"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	const composeFile = "deploy/compose.bbolt.yaml"
	data, err := os.ReadFile("../../" + composeFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	svc, ok := compose.Services["rdvsync"]
	if !ok {
		t.Fatalf("%s has no rdvsync service", composeFile)
	}
	var config, volume bool
	for _, v := range svc.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == "/etc/rdvsync/config.yaml" {
			config = true
		}
		if _, named := compose.Volumes[parts[0]]; named && len(parts) >= 2 && parts[1] == "/var/lib/rdvsync" {
			volume = true
		}
	}
	if !config || !volume {
		t.Errorf("%s mounts a configuration: %v, a named volume on /var/lib/rdvsync: %v", composeFile, config, volume)
	}
	for _, p := range svc.Ports {
		if !strings.HasPrefix(p, "127.0.0.1:") {
			t.Errorf("%s publishes %s beyond loopback: put a TLS proxy in front", composeFile, p)
		}
	}
}
