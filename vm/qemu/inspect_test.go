package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/ukdev/ukdev/vm"
)

// qmpMachine returns a Machine whose QMP monitor talks to a fake server,
// for the inspection methods that need nothing but QMP.
func qmpMachine(t *testing.T) (*Machine, *fakeQMP) {
	t.Helper()
	mon, server := connected(t, 5*time.Second)
	return &Machine{mon: mon, exited: make(chan struct{}), log: slog.New(slog.DiscardHandler)}, server
}

// step is one command the fake QEMU expects and its reply.
type step struct {
	cmd   string
	args  string // the expected arguments as JSON; "" for no check
	reply string // "return": ... or "error": ..., without the id
}

// serve plays QEMU: it answers the commands of script in order and checks
// their arguments where given. The channel closes when the script is done.

func serve(t *testing.T, server *fakeQMP, script []step) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, s := range script {
			c := server.expect(s.cmd)
			if s.args != "" && !sameJSON(c.Arguments, s.args) {
				t.Errorf("%s arguments = %s, want %s", s.cmd, c.Arguments, s.args)
			}
			server.send(fmt.Sprintf(`{%s, "id": %s}`, s.reply, c.ID))
		}
	}()
	return done
}

func sameJSON(got json.RawMessage, want string) bool {
	var a, b any
	if json.Unmarshal(got, &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

func TestMachineMemorySize(t *testing.T) {
	m, server := qmpMachine(t)
	done := serve(t, server, []step{
		{cmd: "query-memory-size-summary", reply: `"return": {"base-memory": 67108864, "plugged-memory": 1048576}`},
	})
	got, err := m.MemorySize(t.Context())
	<-done
	if err != nil || got != 64<<20+1<<20 {
		t.Errorf("MemorySize = %d, %v; want %d", got, err, 64<<20+1<<20)
	}
}

func TestMachineBalloonStatsNoBalloon(t *testing.T) {
	m, server := qmpMachine(t)
	done := serve(t, server, []step{
		{cmd: "query-balloon", reply: `"error": {"class": "DeviceNotActive", "desc": "No balloon device has been activated"}`},
	})
	got, err := m.BalloonStats(t.Context())
	<-done
	if err != nil || got.Present {
		t.Errorf("BalloonStats = %+v, %v; want not present, no error", got, err)
	}
	// QEMU is not asked again: the fake one would not answer.
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if got, err := m.BalloonStats(ctx); err != nil || got.Present {
		t.Errorf("BalloonStats again = %+v, %v; want not present without asking", got, err)
	}
}

// The balloon is searched for and its polling enabled once; the guest's
// stats come back by name, those it does not report (-1) left out.
func TestMachineBalloonStats(t *testing.T) {
	m, server := qmpMachine(t)
	const (
		balloon = `"return": {"actual": 67108864}`
		stats   = `"return": {"stats": {"stat-free-memory": 1048576, "stat-total-memory": 62914560, "stat-swap-in": -1, "stat-major-faults": 3}, "last-update": 1700000000}`
	)
	done := serve(t, server, []step{
		{cmd: "query-balloon", reply: balloon},
		{cmd: "qom-list", args: `{"path": "/machine/peripheral"}`, reply: `"return": [{"name": "type", "type": "string"}]`},
		{cmd: "qom-list", args: `{"path": "/machine/peripheral-anon"}`,
			reply: `"return": [{"name": "type", "type": "string"}, {"name": "device[0]", "type": "child<virtio-balloon-pci>"}]`},
		{cmd: "qom-set", args: `{"path": "/machine/peripheral-anon/device[0]", "property": "guest-stats-polling-interval", "value": 2}`, reply: `"return": {}`},
		{cmd: "qom-get", args: `{"path": "/machine/peripheral-anon/device[0]", "property": "guest-stats"}`, reply: stats},
		// The second call: no search, no qom-set.
		{cmd: "query-balloon", reply: balloon},
		{cmd: "qom-get", reply: stats},
	})
	want := vm.BalloonStats{
		Present:     true,
		ActualBytes: 64 << 20,
		Guest:       []vm.BalloonStat{{Name: "free-memory", Value: 1 << 20}, {Name: "major-faults", Value: 3}, {Name: "total-memory", Value: 60 << 20}},
		Updated:     time.Unix(1700000000, 0),
	}
	for i := range 2 {
		got, err := m.BalloonStats(t.Context())
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("call %d: BalloonStats = %+v, %v; want %+v", i+1, got, err, want)
		}
	}
	<-done
}

// Before the guest first reports, the balloon's size is known but no
// statistic; a failing step keeps what was learnt before it.
func TestMachineBalloonStatsPartial(t *testing.T) {
	m, server := qmpMachine(t)
	done := serve(t, server, []step{
		{cmd: "query-balloon", reply: `"return": {"actual": 1024}`},
		{cmd: "qom-list", reply: `"return": [{"name": "balloon0", "type": "child<virtio-balloon-pci>"}]`},
		{cmd: "qom-set", reply: `"return": {}`},
		{cmd: "qom-get", reply: `"return": {"stats": {"stat-free-memory": -1}, "last-update": 0}`},
		{cmd: "query-balloon", reply: `"return": {"actual": 2048}`},
		{cmd: "qom-get", reply: `"error": {"class": "GenericError", "desc": "guest stats unavailable"}`},
	})
	got, err := m.BalloonStats(t.Context())
	if want := (vm.BalloonStats{Present: true, ActualBytes: 1024}); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("BalloonStats = %+v, %v; want %+v", got, err, want)
	}
	got, err = m.BalloonStats(t.Context())
	var qe *QMPError
	if !errors.As(err, &qe) || qe.Command != "qom-get" || !got.Present || got.ActualBytes != 2048 {
		t.Errorf("BalloonStats = %+v, %v; want the balloon's size and a qom-get *QMPError", got, err)
	}
	<-done
}
