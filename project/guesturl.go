package project

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// ErrBadURL is returned (wrapped) by ParseGuestURL for a malformed
// metrics.url or health.url.
var ErrBadURL = errors.New("bad guest URL")

// GuestURL is an address of the guest's HTTP server as metrics.url and
// health.url write it: a path on the first forwarded TCP port
// ("/metrics"), a forwarded host port and a path (":8080/metrics"), or a
// whole URL on the loopback interface ("http://127.0.0.1:8080/metrics").
type GuestURL struct {
	// HostPort is the forwarded host port the address names; 0 for the
	// first forwarded TCP port, and for a whole URL.
	HostPort int
	// Path is the path, with any query, on that port ("/metrics"); empty
	// for a whole URL.
	Path string
	// Full is the whole http or https URL when one was given: it is used
	// as it is.
	Full string
}

// ParseGuestURL parses a metrics.url or health.url. A whole URL must name
// a loopback host (localhost, 127.0.0.0/8, ::1): ukdev reaches the guest
// through the ports it forwards, never across the network. Errors wrap
// ErrBadURL.
func ParseGuestURL(s string) (GuestURL, error) {
	u, err := parseGuestURL(s)
	if err != nil {
		return GuestURL{}, fmt.Errorf("project: parse URL %q: %w: %w", s, ErrBadURL, err)
	}
	return u, nil
}

// parseGuestURL is ParseGuestURL without the wrapping, so that config
// errors can phrase the reason their own way.
func parseGuestURL(s string) (GuestURL, error) {
	const want = `want a path on the first forwarded port ("/metrics"), a forwarded host port and a path (":8080/metrics") or a loopback URL ("http://127.0.0.1:8080/metrics")`
	switch {
	case s == "":
		return GuestURL{}, errors.New("empty URL: " + want)
	case strings.HasPrefix(s, "/"):
		if err := checkPath(s); err != nil {
			return GuestURL{}, err
		}
		return GuestURL{Path: s}, nil
	case strings.HasPrefix(s, ":"):
		digits, path, _ := strings.Cut(s[1:], "/")
		path = "/" + path
		n, err := strconv.Atoi(digits)
		if err != nil || n < 1 || n > 65535 || digits != strconv.Itoa(n) {
			return GuestURL{}, fmt.Errorf("%q is not a port from 1 to 65535: %s", digits, want)
		}
		if err := checkPath(path); err != nil {
			return GuestURL{}, err
		}
		return GuestURL{HostPort: n, Path: path}, nil
	case strings.HasPrefix(s, "http://"), strings.HasPrefix(s, "https://"):
		u, err := url.Parse(s)
		if err != nil {
			return GuestURL{}, fmt.Errorf("not a URL: %w", errors.Unwrap(err))
		}
		if !isLoopback(u.Hostname()) {
			return GuestURL{}, fmt.Errorf("host %q is not on the loopback interface: ukdev reaches the guest through its forwarded ports", u.Hostname())
		}
		if u.User != nil {
			return GuestURL{}, errors.New("a URL with a user name or password: put no credentials in ukdev.toml")
		}
		return GuestURL{Full: s}, nil
	}
	return GuestURL{}, errors.New(want)
}

// checkPath checks the path part of a guest URL.
func checkPath(p string) error {
	if _, err := url.ParseRequestURI(p); err != nil || strings.ContainsAny(p, " \t#") {
		return fmt.Errorf("%q is not a URL path", p)
	}
	return nil
}

// isLoopback reports whether host is localhost or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.IsLoopback()
}
