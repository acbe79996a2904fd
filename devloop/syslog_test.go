package devloop

import (
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/ukdev/ukdev/kernel/ops"
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

func TestWantsSyslog(t *testing.T) {
	tests := []struct {
		name string
		cfg  *ops.Config
		want bool
	}{
		{"no config", nil, false},
		{"no klib", &ops.Config{}, false},
		{"klib, no server", &ops.Config{Klibs: []string{"syslog"}}, true},
		{"klib aimed at the host", &ops.Config{Klibs: []string{"syslog"},
			ManifestPassthrough: map[string]any{"syslog": map[string]any{"server": "10.0.2.2"}}}, true},
		{"klib aimed elsewhere", &ops.Config{Klibs: []string{"syslog"},
			ManifestPassthrough: map[string]any{"syslog": map[string]any{"server": "logs.example.com"}}}, false},
		{"klib in RunConfig", &ops.Config{RunConfig: ops.RunConfig{Klibs: []string{"syslog"}}}, true},
	}
	for _, tt := range tests {
		if got := wantsSyslog(tt.cfg); got != tt.want {
			t.Errorf("%s: wantsSyslog = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// A datagram sent where the manifest points the klib arrives as a
// vm.syslog event of the running boot, header stripped.
func TestSyslogSinkDelivers(t *testing.T) {
	cfg := &ops.Config{Klibs: []string{"syslog"},
		ManifestPassthrough: map[string]any{"syslog": map[string]any{"file_rotate": "2"}}}
	sink, err := startSyslog(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.close()
	sc := cfg.ManifestPassthrough["syslog"].(map[string]any)
	if sc["server"] != "10.0.2.2" || sc["file_rotate"] != "2" {
		t.Fatalf("syslog manifest = %v", sc)
	}
	port, err := strconv.Atoi(sc["server_port"].(string))
	if err != nil {
		t.Fatal(err)
	}
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
