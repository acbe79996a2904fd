package crash

import "testing"

func TestSignalName(t *testing.T) {
	for n, want := range map[int]string{11: "SIGSEGV", 15: "SIGTERM", 6: "SIGABRT", 40: "signal 40"} {
		if got := SignalName(n); got != want {
			t.Errorf("SignalName(%d) = %q, want %q", n, got, want)
		}
	}
}
