package devloop

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ukdev/ukdev/image"
)

// wantState fails the test unless Status says state for boot.
func wantState(t *testing.T, l *Loop, state string, boot int) Status {
	t.Helper()
	st := l.Status()
	if st.State != state || st.Boot != boot {
		t.Fatalf("Status = %+v; want %s, boot %d", st, state, boot)
	}
	return st
}

// TestLoopStatusAndDo follows Status through a loop's life, driven by Do,
// which returns only once its action is done.
func TestLoopStatusAndDo(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ctx := context.Background()
	wantState(t, h.l, StateNone, 0)
	h.run()
	h.wait(TypeBuildStart, nil)
	st := wantState(t, h.l, StateBuilding, 0)
	if !st.Watching {
		t.Errorf("Status.Watching false in a watching loop")
	}
	m1 := h.boot()
	st = wantState(t, h.l, StateRunning, 1)
	if st.Build != 1 || st.Since.IsZero() {
		t.Errorf("Status = %+v; want build 1 and when it started", st)
	}

	if err := h.l.Do(ctx, ActionPause); err != nil {
		t.Fatal(err)
	}
	wantState(t, h.l, StatePaused, 1)
	if err := h.l.Do(ctx, ActionPause); err != nil { // paused already: nothing
		t.Fatal(err)
	}
	paused := h.l.Status().Uptime
	if err := h.l.Do(ctx, ActionResume); err != nil {
		t.Fatal(err)
	}
	wantState(t, h.l, StateRunning, 1)
	if got := m1.callList(); !slices.Equal(got, []string{"pause", "resume"}) {
		t.Errorf("machine calls %q; want one pause and one resume after a start running", got)
	}
	if up := h.l.Status().Uptime; up < paused {
		t.Errorf("uptime went back from %s to %s", paused, up)
	}

	if err := h.l.Do(ctx, ActionStop); err != nil {
		t.Fatal(err)
	}
	// Done when Do returns: the end is already reported.
	st = wantState(t, h.l, StateStopped, 1)
	if !strings.HasPrefix(st.Exit, "killed") {
		t.Errorf("Status.Exit = %q, want killed", st.Exit)
	}
	for _, a := range []Action{ActionPause, ActionResume, ActionStop} {
		if err := h.l.Do(ctx, a); !errors.Is(err, ErrNoVM) {
			t.Errorf("%s without a VM: %v, want ErrNoVM", a, err)
		}
	}

	// Reboot boots the last image again when none runs.
	done := make(chan error, 1)
	go func() { done <- h.l.Do(ctx, ActionReboot) }()
	m2 := h.be.next(t)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wantState(t, h.l, StateRunning, 2)
	h.live(m2)

	// A crash freezes the VM for inspection; stopping it leaves it exited.
	m2.crash(image.Outcome{Kind: image.GuestPanicked, Status: -1, Detail: "guest panicked"})
	h.wait(TypeVMExit, isBoot(2))
	wantState(t, h.l, StateCrashed, 2)
	if err := h.l.Do(ctx, ActionStop); err != nil {
		t.Fatal(err)
	}
	wantState(t, h.l, StateExited, 2)

	h.stop()
	if err := h.l.Do(ctx, ActionReboot); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Do after Run: %v, want ErrNotRunning", err)
	}
}

// TestLoopNoWatch: a loop started with NoWatch boots an image that is up
// to date without building, starts with watching off, and stays up after
// its guest ends.
func TestLoopNoWatch(t *testing.T) {
	h := newHarness(t, harnessOptions{noWatch: true})
	img := filepath.Join(h.root, "k.elf")
	if err := os.WriteFile(img, []byte("kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(img, future, future); err != nil {
		t.Fatal(err)
	}
	h.run()
	h.wait(TypeWatchPaused, nil)
	m := h.be.next(t)
	h.wait(TypeVMStart, isBoot(1))
	h.live(m)
	if st := wantState(t, h.l, StateRunning, 1); st.Watching {
		t.Errorf("Status.Watching true with NoWatch")
	}
	for _, e := range h.seen {
		if e.Type == TypeBuildStart {
			t.Errorf("a build ran for an up-to-date image: %s", h.types())
		}
	}
	m.exit(image.Outcome{Kind: image.QEMUExited, Status: 1})
	h.wait(TypeVMExit, isBoot(1))
	wantState(t, h.l, StateExited, 1)
	h.l.ToggleWatch()
	h.wait(TypeWatchResumed, nil)
	if !h.l.Status().Watching {
		t.Errorf("Status.Watching false after ToggleWatch")
	}
	select {
	case <-h.done:
		t.Fatal("Run ended with the guest")
	default:
	}
}
