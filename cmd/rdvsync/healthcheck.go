package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"
)

// runHealthcheck asks the daemon of a configuration for /readyz and exits
// 0 when it answers 200: a container HEALTHCHECK, in an image that has no
// shell nor curl. The address is the one the daemon wrote in its admin
// file at start (the one it really listens on), else server.listen.
func runHealthcheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("healthcheck", stderr)
	path := fs.String("config", "config.yaml", "configuration `file`")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cat, ok := loadCatalog(*path, stderr)
	if !ok {
		return 1
	}
	addr := cat.Config.Server.Listen
	// A PostgreSQL store has no store file to write the admin file beside:
	// server.listen it is.
	if !cat.Config.Store.Postgres() {
		if info, err := readAdminFile(filepath.Dir(cat.Config.StorePath())); err == nil && info.Addr != "" {
			addr = info.Addr
		}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync healthcheck: listen address %q: %v\n", addr, err)
		return 1
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1" // listening on every interface: loopback is one
	}
	url := "http://" + net.JoinHostPort(host, port) + "/readyz"
	resp, err := (&http.Client{Timeout: *timeout}).Get(url)
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync healthcheck: %v\n", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "rdvsync healthcheck: %s answered %s\n", url, resp.Status)
		return 1
	}
	fmt.Fprintf(stdout, "ready: %s\n", url)
	return 0
}
