package devloop

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/ukdev/ukdev/logs"
)

// syslogSink receives what the guest ships to syslog (RFC 5424 over UDP,
// as Nanos' syslog klib sends it) on a loopback port, as a second source
// beside the serial console.
type syslogSink struct {
	conn *net.UDPConn
}

// listenSyslog listens on a free loopback UDP port and returns the sink
// and its port, to hand to the kernel (flavor.SyslogShipper.SyslogTo).
func listenSyslog() (*syslogSink, int, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, 0, fmt.Errorf("syslog: listen: %w", err)
	}
	return &syslogSink{conn: conn}, conn.LocalAddr().(*net.UDPAddr).Port, nil
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
