package qmpcmd

import (
	"slices"
	"testing"
)

// TestBalloonAbsentNotAskedAgain: once QEMU said it has no balloon, Stats
// asks it nothing more.
func TestBalloonAbsentNotAskedAgain(t *testing.T) {
	ex := &fakeExecutor{replies: map[string]string{"query-balloon": "error:DeviceNotActive"}}
	var b Balloon
	for range 3 {
		got, err := b.Stats(t.Context(), ex)
		if err != nil || got.Present {
			t.Fatalf("Stats = %+v, %v; want not present, no error", got, err)
		}
	}
	if want := [][]string{{"query-balloon"}}; !slices.EqualFunc(ex.calls, want, slices.Equal) {
		t.Errorf("calls = %q, want %q", ex.calls, want)
	}
}

// TestBalloonOtherErrorAskedAgain: an error that does not say the balloon
// is absent is not remembered.
func TestBalloonOtherErrorAskedAgain(t *testing.T) {
	ex := &fakeExecutor{replies: map[string]string{"query-balloon": "error:GenericError"}}
	var b Balloon
	for range 2 {
		if _, err := b.Stats(t.Context(), ex); err == nil {
			t.Fatal("Stats succeeded on a GenericError")
		}
	}
	if len(ex.calls) != 2 {
		t.Errorf("calls = %q, want query-balloon twice", ex.calls)
	}
}
