package devloop

import (
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/ukdev/ukdev/logs"
)

func TestSyslogMessage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<14>1 2026-11-28T08:00:00.000000Z 10.0.2.15 app - - - listening on :8080", "listening on :8080"},
		{"<14>1 2026-11-28T08:00:00.000000Z 10.0.2.15 app - - - a - b - c", "a - b - c"},
		{"<14>1 short header", "<14>1 short header"},
		{"plain text", "plain text"},
		{"<14 no end", "<14 no end"},
		{"<13>2 2026 h a p m - text", "<13>2 2026 h a p m - text"},
	}
	for _, tt := range tests {
		if got := syslogMessage(tt.in); got != tt.want {
			t.Errorf("syslogMessage(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A datagram sent to the sink's port arrives as a vm.syslog event of the
// running boot, header stripped.
func TestSyslogSinkDelivers(t *testing.T) {
	sink, port, err := listenSyslog()
	if err != nil {
		t.Fatal(err)
	}
	defer sink.close()
	l := &Loop{events: make(chan Event, 8), ring: logs.NewRing(8), log: slog.New(slog.DiscardHandler)}
	l.info.Store(&VMInfo{Boot: 3})
	go sink.run(l)

	conn, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("<14>1 2026-11-28T08:00:00.000000Z 10.0.2.15 app - - - served GET /\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-l.events:
		if e.Type != TypeVMSyslog || e.Boot != 3 || e.Line != "served GET /" {
			t.Fatalf("event = %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no vm.syslog event")
	}
}
