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

// fakeQEMU plays QEMU's QMP side on the listening socket Start passes as
// descriptor 3, and fails the way mode says:
//   - "die-before-greeting": exits 1 with an error on stderr before
//     accepting the connection;
//   - "die-after-greeting": greets, reads the negotiation, exits 1;
//   - "refuse-cont": negotiates, refuses cont as QEMU does after a crash,
//     and serves until quit.
func fakeQEMU(mode string, args []string) int {
	want := [][]string{
		{"-chardev", "socket,id=" + qmpChardevID + ",fd=3,server=on,wait=off"},
		{"-mon", "chardev=" + qmpChardevID + ",mode=control"},
		{"-S"},
	}
	for _, w := range want {
		if i := slices.Index(args, w[0]); i < 0 || (len(w) > 1 && !slices.Contains(args[i:], w[1])) {
			fmt.Fprintf(os.Stderr, "fake qemu: no %q in %q\n", w, args)
			return 2
		}
	}
	if slices.Contains(args, "-qmp") {
		fmt.Fprintf(os.Stderr, "fake qemu: -qmp still in %q\n", args)
		return 2
	}
	if mode == "die-before-greeting" {
		fmt.Fprintln(os.Stderr, "fake qemu: cannot initialise the machine")
		return 1
	}
	ln, err := net.FileListener(os.NewFile(3, "qmp"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "fake qemu: descriptor 3 is no listening socket: %v\n", err)
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
			if !slices.Contains(se.Argv, "-mon") {
				t.Errorf("StartError.Argv %q is not the command line that ran", se.Argv)
			}
			t.Logf("%v", err)
		})
	}
}

// TestStartPassesTheQMPSocket: real QEMU takes the listening socket as a
// descriptor; the socket file stays usable by path, Args' -qmp is gone,
// and a guest started running is running once Start returns.
func TestStartPassesTheQMPSocket(t *testing.T) {
	for _, paused := range []bool{false, true} {
		t.Run(fmt.Sprintf("paused=%v", paused), func(t *testing.T) {
			spec := bootSpec(t, echoKernel())
			spec.StartPaused = paused
			m, console := start(t, spec)
			if slices.Contains(m.Argv(), "-qmp") || !slices.Contains(m.Argv(), "chardev="+qmpChardevID+",mode=control") {
				t.Errorf("argv %q: want the QMP monitor on a passed descriptor", m.Argv())
			}
			want := "running"
			if paused {
				want = "prelaunch"
			}
			if st, err := m.Status(t.Context()); err != nil || st != want {
				t.Fatalf("status = %q, %v; want %s", st, err, want)
			}
			if fi, err := os.Stat(spec.QMPSocket); err != nil || fi.Mode().Type() != os.ModeSocket {
				t.Fatalf("QMP socket file: %v, %v", fi, err)
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

func TestQMPFDArgs(t *testing.T) {
	path := "/run/a,b/qmp.sock"
	args := Args(vm.Spec{Machine: "microvm", QMPSocket: path, StartPaused: true, ExtraArgs: []string{"-qmp", "tcp:127.0.0.1:4444"}})
	got, err := qmpFDArgs(args, path, 3)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(got, "-mon")
	if i < 2 || got[i-2] != "-chardev" || got[i-1] != "socket,id=ukdev-qmp,fd=3,server=on,wait=off" || got[i+1] != "chardev=ukdev-qmp,mode=control" {
		t.Fatalf("qmpFDArgs = %q", got)
	}
	if len(got) != len(args)+2 || slices.Contains(got, "unix:/run/a,,b/qmp.sock,server=on,wait=off") {
		t.Errorf("qmpFDArgs = %q, want only Args' -qmp replaced", got)
	}
	if !slices.Equal(got[len(got)-2:], []string{"-qmp", "tcp:127.0.0.1:4444"}) {
		t.Errorf("the user's own -qmp was changed: %q", got)
	}
	if _, err := qmpFDArgs([]string{"-S"}, path, 3); err == nil {
		t.Error("argv without -qmp accepted")
	}
}
