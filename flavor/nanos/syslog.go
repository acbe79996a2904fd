package nanos

import (
	"strconv"

	"github.com/ukdev/ukdev/flavor/nanos/ops"
)

// guestHost is the address under which a guest on QEMU's user network
// reaches the host's loopback.
const guestHost = "10.0.2.2"

// wantsSyslog reports whether the ops config loads the syslog klib aimed
// at the host (server 10.0.2.2, or no server at all).
func wantsSyslog(c *ops.Config) bool {
	if c == nil {
		return false
	}
	hasKlib := false
	for _, k := range c.AllKlibs() {
		hasKlib = hasKlib || k == "syslog"
	}
	cfg, _ := c.ManifestPassthrough["syslog"].(map[string]any)
	server, _ := cfg["server"].(string)
	return hasKlib && (server == "" || server == guestHost)
}

// WantsSyslog implements flavor.SyslogShipper: the ops config loads
// Nanos' syslog klib aimed at the host (server 10.0.2.2, or no server at
// all).
func (n *Kernel) WantsSyslog() bool { return wantsSyslog(n.opts.Config) }

// SyslogTo implements flavor.SyslogShipper: it points the image's syslog
// klib at port on the host. The guest sends to 10.0.2.2:<port>, which
// QEMU's user network delivers to 127.0.0.1:<port>. The klib's other
// settings are kept.
func (n *Kernel) SyslogTo(port int) {
	c := n.opts.Config
	cfg := map[string]any{}
	if old, ok := c.ManifestPassthrough["syslog"].(map[string]any); ok {
		for k, v := range old {
			cfg[k] = v
		}
	}
	cfg["server"] = guestHost
	cfg["server_port"] = strconv.Itoa(port)
	if c.ManifestPassthrough == nil {
		c.ManifestPassthrough = map[string]any{}
	}
	c.ManifestPassthrough["syslog"] = cfg
}
