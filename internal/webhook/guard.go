package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// ErrPrivateTarget refuses to deliver to a loopback, private, link-local
// or otherwise non-public address: a webhook URL must not become a way to
// reach the daemon's own network (SSRF). Endpoints that really live there
// say allow_private: true.
var ErrPrivateTarget = errors.New("the target address is not public (loopback, private, link-local…): set allow_private: true on the endpoint to allow it")

// nonPublic are the ranges refused besides what netip classifies as
// loopback, private, link-local, multicast or unspecified.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and the broadcast address
	netip.MustParsePrefix("::/96"),          // IPv4-compatible (deprecated)
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("2001::/32"),      // Teredo: tunnels to an embedded IPv4
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("2002::/16"),      // 6to4: relays to an embedded IPv4
	netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated)
}

// nat64 is the well-known NAT64 prefix: its addresses carry an IPv4
// address in their last 32 bits, which is judged instead.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// publicAddr reports whether ip may be the target of a webhook.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() {
		return false
	}
	if nat64.Contains(ip) {
		b := ip.As16()
		return publicAddr(netip.AddrFrom4([4]byte(b[12:])))
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// refusePrivate is a net.Dialer Control function: it runs after name
// resolution, on the very address about to be connected to, so a name
// that resolves to a public address when checked and to a private one
// when used (DNS rebinding) is still refused.
func refusePrivate(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrPrivateTarget, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !publicAddr(ip) {
		return fmt.Errorf("%w: %s", ErrPrivateTarget, host)
	}
	return nil
}

// newClient returns the HTTP client of deliveries: no proxy (a proxy
// would dial for us, out of reach of the address check), no redirects
// (a 3xx is a failed delivery: the receiver's URL is what the admin
// configured, not where a response points), timeout on the whole exchange.
// guarded is the pair of clients every outbound call of this package
// uses: the public one refuses private addresses at dial time, the private
// one serves targets the admin marked allow_private.
type guarded struct{ public, private *http.Client }

func newGuarded(timeout time.Duration) guarded {
	return guarded{public: newClient(false, timeout), private: newClient(true, timeout)}
}

// do sends req with the client allowPrivate selects. A transport error
// loses its url.Error wrapper: the URL is the admin's and may carry a
// token, the cause is what the log needs.
func (g guarded) do(req *http.Request, allowPrivate bool) (*http.Response, error) {
	client := g.public
	if allowPrivate {
		client = g.private
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
	}
	return resp, err
}

func newClient(allowPrivate bool, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = refusePrivate
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          32,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
