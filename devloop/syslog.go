package devloop

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/ukdev/ukdev/kernel/ops"
	"github.com/ukdev/ukdev/logs"
)

// guestHost is the address under which a guest on QEMU's user network
// reaches the host's loopback.
const guestHost = "10.0.2.2"

// syslogSink receives what the guest ships to syslog (RFC 5424 over UDP,
// as Nanos' syslog klib sends it) on a loopback port, as a second source
// beside the serial console.
type syslogSink struct {
	conn *net.UDPConn
}

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

// startSyslog listens on a free loopback UDP port and points the image's
// syslog klib at it: the guest sends to 10.0.2.2:<port>, which QEMU's user
// network delivers to 127.0.0.1:<port>.
func startSyslog(c *ops.Config) (*syslogSink, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("syslog: listen: %w", err)
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
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
	return &syslogSink{conn: conn}, nil
}

// run delivers each message as a vm.syslog event until the sink is closed.
func (s *syslogSink) run(l *Loop) {
	buf := make([]byte, 64<<10)
	for {
		n, _, err := s.conn.ReadFromUDP(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				l.log.Warn("syslog receive", "err", err)
			}
			return
		}
		boot := 0
		if info := l.info.Load(); info != nil {
			boot = info.Boot
		}
		for _, line := range strings.Split(strings.TrimRight(syslogMessage(string(buf[:n])), "\n"), "\n") {
			now := time.Now()
			l.ring.Append(logs.Line{Time: now, Boot: boot, Source: logs.Source("syslog"), Text: line})
			l.emitConsole(Event{Time: now, Type: TypeVMSyslog, Boot: boot, Line: line, Message: line})
		}
	}
}

func (s *syslogSink) close() { _ = s.conn.Close() }

// syslogMessage strips an RFC 5424 header
// ("<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG") and returns MSG; other
// datagrams are returned whole.
func syslogMessage(p string) string {
	if !strings.HasPrefix(p, "<") {
		return p
	}
	end := strings.IndexByte(p, '>')
	if end < 0 {
		return p
	}
	// VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG
	fields := strings.SplitN(p[end+1:], " ", 8)
	if len(fields) < 8 || fields[0] != "1" || fields[6] != "-" {
		return p
	}
	return fields[7]
}
