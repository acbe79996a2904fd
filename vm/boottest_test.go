package vm_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/vm"
)

// fakeBackend starts fakeMachines that write console to the console and
// then, when end is set, end the boot.
type fakeBackend struct {
	console  []string
	end      bool
	startErr error

	mu      sync.Mutex
	spec    vm.Spec
	machine *fakeMachine
}

func (b *fakeBackend) Installed(string) error { return nil }

func (b *fakeBackend) ProbeAccel(context.Context, string) vm.Accel {
	return vm.Accel{Name: "tcg", Reason: "fake"}
}

func (b *fakeBackend) Start(_ context.Context, spec vm.Spec, opts vm.StartOptions) (vm.Machine, error) {
	if b.startErr != nil {
		return nil, b.startErr
	}
	m := &fakeMachine{ended: make(chan struct{}), exited: make(chan struct{})}
	b.mu.Lock()
	b.spec, b.machine = spec, m
	b.mu.Unlock()
	go func() {
		for _, c := range b.console {
			if opts.Console != nil {
				_, _ = io.WriteString(opts.Console, c)
			}
		}
		if b.end {
			m.endOnce.Do(func() { close(m.ended) })
		}
	}()
	return m, nil
}

type fakeMachine struct {
	vm.Machine // unused methods panic

	ended, exited     chan struct{}
	endOnce, stopOnce sync.Once
	stops             int
	mu                sync.Mutex
}

func (m *fakeMachine) Ended() <-chan struct{}  { return m.ended }
func (m *fakeMachine) Exited() <-chan struct{} { return m.exited }
func (m *fakeMachine) Outcome() image.Outcome {
	return image.Outcome{Kind: image.GuestReset, Detail: "guest reset"}
}

func (m *fakeMachine) Stop(context.Context) error {
	m.mu.Lock()
	m.stops++
	m.mu.Unlock()
	m.stopOnce.Do(func() { close(m.exited) })
	return nil
}

func TestBootTest(t *testing.T) {
	grub := image.Disk{Path: "/d.raw", Machine: "pc", Handover: "ukdev-boot: go", LoaderFailed: "ukdev-boot: failed"}
	tests := []struct {
		name     string
		disk     image.Disk
		console  []string
		end      bool
		timeout  time.Duration
		wantLine string
		wantErr  error
		wantMsg  string
	}{
		{
			name:     "first line after the handover",
			disk:     grub,
			console:  []string{"\x1b[H\x1b[Jgrub says hi\r\n", "ukdev-boot: go\n", "\r\x1b[1mhello", " from ukdev\x1b[0m\r\n", "more\n"},
			wantLine: "hello from ukdev",
		},
		{
			name:     "no loader lines: the first line is the guest's",
			disk:     image.Disk{Path: "/n.raw", Machine: "q35"},
			console:  []string{"\r\n", "en1: assigned 10.0.2.15\n"},
			wantLine: "en1: assigned 10.0.2.15",
		},
		{
			name:    "the loader failed",
			disk:    grub,
			console: []string{"\x1b[Herror: file '/boot/kernel' not found.\n", "ukdev-boot: failed\n"},
			wantErr: vm.ErrLoaderFailed,
			wantMsg: "vm: boot test of /d.raw: the boot loader could not start the kernel; the console ended with: " +
				"error: file '/boot/kernel' not found. | ukdev-boot: failed",
		},
		{
			name:     "a line then the machine ends",
			disk:     grub,
			console:  []string{"ukdev-boot: go\n", "bye\n"},
			end:      true,
			wantLine: "bye",
		},
		{
			name:    "the machine ends before a guest line",
			disk:    grub,
			console: []string{"ukdev-boot: go\n"},
			end:     true,
			wantErr: vm.ErrBootEnded,
			wantMsg: "vm: boot test of /d.raw: the machine stopped before the guest printed a line (guest reset); the console ended with: ukdev-boot: go",
		},
		{
			name:    "nothing before the deadline",
			disk:    grub,
			console: []string{"ukdev-boot: go\n", "no newline yet"},
			timeout: 50 * time.Millisecond,
			wantErr: vm.ErrBootTimeout,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &fakeBackend{console: tt.console, end: tt.end}
			res, err := vm.BootTest(t.Context(), b, vm.BootTestOptions{Disk: tt.disk, MemoryMiB: 64, Timeout: tt.timeout})
			if tt.wantErr != nil {
				var bte *vm.BootTestError
				if !errors.Is(err, tt.wantErr) || !errors.As(err, &bte) {
					t.Fatalf("err = %v, want a *BootTestError wrapping %v", err, tt.wantErr)
				}
				if tt.wantMsg != "" && err.Error() != tt.wantMsg {
					t.Errorf("err = %q, want %q", err, tt.wantMsg)
				}
			} else if err != nil || res.FirstLine != tt.wantLine {
				t.Fatalf("BootTest = %q, %v; want %q", res.FirstLine, err, tt.wantLine)
			}
			if b.spec.BootDisk != tt.disk.Path || b.spec.Machine != tt.disk.Machine || b.spec.MemoryMiB != 64 ||
				b.spec.Accel != "tcg" || b.spec.Image.Kernel != "" || !b.spec.Network {
				t.Errorf("spec = %+v", b.spec)
			}
			if b.machine.stops == 0 {
				t.Error("the machine was not stopped")
			}
		})
	}
}

func TestBootTestCancelledStopsTheMachine(t *testing.T) {
	b := &fakeBackend{console: []string{"ukdev-boot: go\n"}}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err := vm.BootTest(ctx, b, vm.BootTestOptions{Disk: image.Disk{Path: "/d", Handover: "ukdev-boot: go"}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if b.machine.stops == 0 {
		t.Error("the machine was not stopped")
	}
}

func TestBootTestStartError(t *testing.T) {
	startErr := &vm.StartError{Argv: []string{"qemu"}, Stderr: "qemu: bad disk"}
	_, err := vm.BootTest(t.Context(), &fakeBackend{startErr: startErr}, vm.BootTestOptions{Disk: image.Disk{Path: "/d"}})
	var se *vm.StartError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want the *StartError", err)
	}
}

func TestCleanConsoleLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"\x1b[H\x1b[J\x1b[1;1Hukdev-boot: go", "ukdev-boot: go"},
		{"\x1b]0;title\x07text\x1b]8;;x\x1b\\ more", "text more"},
		{"\x1bcreset\tand\x00nul", "reset andnul"},
		{"  plain  ", "plain"},
		{"\x1b[", ""},
	}
	for _, tt := range tests {
		if got := vm.CleanConsoleLine(tt.in); got != tt.want {
			t.Errorf("CleanConsoleLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
