package guestexit

import "testing"

func TestExitString(t *testing.T) {
	tests := []struct {
		e    Exit
		want string
	}{
		{Exit{Reason: ReasonExit, Code: 3, HasCode: true}, "exit 3"},
		{Exit{Reason: ReasonExit, Code: 0, HasCode: true}, "exit 0"},
		{Exit{Reason: ReasonExit, Code: 0, HasCode: true, Detail: "guest powered off"}, "exit 0 (guest powered off)"},
		{Exit{Reason: ReasonCrash, Detail: "triple fault or guest reset"}, "crash (triple fault or guest reset)"},
		{Exit{Reason: ReasonPanic}, "panic"},
		{Exit{Reason: ReasonKilled, Code: 9}, "killed"},
		{Exit{Reason: ReasonQEMUError, Detail: "QEMU exited with status 2"}, "qemu-error (QEMU exited with status 2)"},
	}
	for _, tt := range tests {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.e, got, tt.want)
		}
	}
}
