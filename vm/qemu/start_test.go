package qemu

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/vm"
)

// fakeQEMUEnv makes the test binary play QEMU (see fakeQEMU) in the mode
// it names.
const fakeQEMUEnv = "UKDEV_TEST_FAKE_QEMU"

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeQEMUEnv); mode != "" {
		os.Exit(fakeQEMU(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeQEMU plays QEMU's QMP side on the socket of its -qmp option (as
// Args writes it), and fails the way mode says:
//   - "die-before-greeting": exits 1 with an error on stderr before
//     creating the socket;
//   - "die-after-greeting": greets, reads the negotiation, exits 1;
//   - "refuse-cont": negotiates, refuses cont as QEMU does after a crash,
//     and serves until quit.
func fakeQEMU(mode string, args []string) int {
	if !slices.Contains(args, "-S") {
		fmt.Fprintf(os.Stderr, "fake qemu: no -S in %q\n", args)
		return 2
	}
	i := slices.Index(args, "-qmp")
	if i < 0 || i+1 == len(args) {
		fmt.Fprintf(os.Stderr, "fake qemu: no -qmp in %q\n", args)
		return 2
	}
	path, ok := strings.CutSuffix(strings.TrimPrefix(args[i+1], "unix:"), ",server=on,wait=off")
	if !ok {
		fmt.Fprintf(os.Stderr, "fake qemu: -qmp %q\n", args[i+1])
		return 2
	}
	if mode == "die-before-greeting" {
		fmt.Fprintln(os.Stderr, "fake qemu: cannot initialise the machine")
		return 1
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fake qemu: listen: %v\n", err)
		return 2
	}
	conn, err := ln.Accept()
	if err != nil {
		fmt.Fprintf(os.Stderr, "fake qemu: accept: %v\n", err)
		return 2
	}
	fmt.Fprintf(conn, "%s\r\n", greeting)
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		var c serverCommand
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			fmt.Fprintf(os.Stderr, "fake qemu: bad command %q\n", sc.Text())
			return 2
		}
		if mode == "die-after-greeting" {
			fmt.Fprintln(os.Stderr, "fake qemu: died during the negotiation")
			return 1
		}
		switch c.Execute {
		case "cont":
			fmt.Fprintf(conn, `{"error": {"class": "GenericError", "desc": "Resetting the Virtual Machine is required"}, "id": %s}`+"\r\n", c.ID)
		case "quit":
			fmt.Fprintf(conn, `{"return": {}, "id": %s}`+"\r\n", c.ID)
			return 0
		default:
			fmt.Fprintf(conn, `{"return": {}, "id": %s}`+"\r\n", c.ID)
		}
	}
	return 0
}

// TestStartHandshakeFailures: QEMU failing between its spawn and a
// running guest leaves no process and a *vm.StartError that says why.
func TestStartHandshakeFailures(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mode   string
		paused bool
		// wantQMP is the command whose refusal the error carries; empty:
		// the error is QEMU's exit, with its stderr.
		wantQMP string
		wantOK  bool
	}{
		{mode: "die-before-greeting"},
		{mode: "die-after-greeting"},
		{mode: "refuse-cont", wantQMP: "cont"},
		// Started paused, nothing asks for cont.
		{mode: "refuse-cont", paused: true, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s paused=%v", tt.mode, tt.paused), func(t *testing.T) {
			t.Setenv(fakeQEMUEnv, tt.mode)
			spec := vm.Spec{QEMU: self, Machine: "microvm", StartPaused: tt.paused,
				QMPSocket: filepath.Join(shortTempDir(t), "qmp.sock")}
			m, err := Start(t.Context(), spec, vm.StartOptions{StartTimeout: deadline})
			if tt.wantOK {
				if err != nil {
					t.Fatalf("Start: %v", err)
				}
				if err := m.Stop(t.Context()); err != nil {
					t.Fatal(err)
				}
				if o := m.Outcome(); o.Kind != image.StoppedByHost {
					t.Errorf("Outcome = %+v, want StoppedByHost", o)
				}
				return
			}
			if m != nil {
				_ = m.Stop(t.Context())
				t.Fatal("Start returned a machine")
			}
			var se *vm.StartError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want *vm.StartError", err)
			}
			if tt.wantQMP != "" {
				var qe *QMPError
				if !errors.As(err, &qe) || qe.Command != tt.wantQMP {
					t.Fatalf("err = %v, want QEMU's refusal of %s", err, tt.wantQMP)
				}
			} else {
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 1 || se.Stderr == "" {
					t.Fatalf("err = %v (stderr %q), want QEMU's exit status 1 and its stderr", err, se.Stderr)
				}
			}
			t.Logf("%v", err)
		})
	}
}

// TestStartRunningOrPaused: with real QEMU, a guest started running runs
// once Start returns (cont went with the negotiation), and one started
// paused waits.
func TestStartRunningOrPaused(t *testing.T) {
	for _, paused := range []bool{false, true} {
		t.Run(fmt.Sprintf("paused=%v", paused), func(t *testing.T) {
			spec := bootSpec(t, echoKernel())
			spec.StartPaused = paused
			m, console := start(t, spec)
			want := "running"
			if paused {
				want = "prelaunch"
			}
			if st, err := m.Status(t.Context()); err != nil || st != want {
				t.Fatalf("status = %q, %v; want %s", st, err, want)
			}
			if paused {
				if err := m.Resume(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			console.waitCount(t, "READY\n", 1)
		})
	}
}
