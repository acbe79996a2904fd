package crash

import "testing"

func TestGoFuncName(t *testing.T) {
	for in, want := range map[string]string{
		"main.main()":                       "main.main",
		"main.(*T).M(0xc000010000, ...)":    "main.(*T).M",
		"main.f({0x1, 0x2}, 0x3)":           "main.f",
		"main.main.func1(...)":              "main.main.func1",
		"runtime.gopanic({0x4a0f40, 0x5b})": "runtime.gopanic",
		"weird":                             "weird",
	} {
		if got := goFuncName(in); got != want {
			t.Errorf("goFuncName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseHex(t *testing.T) {
	for in, want := range map[string]uint64{
		"0x1d":             0x1d,
		"0X1D":             0x1d,
		"ffffffff81000000": 0xffffffff81000000,
		"0000000000401000": 0x401000,
		"":                 0,
		"zz":               0,
	} {
		if got := ParseHex(in); got != want {
			t.Errorf("ParseHex(%q) = %#x, want %#x", in, got, want)
		}
	}
}

func TestSignalNumber(t *testing.T) {
	for in, want := range map[string]int{"11": 11, "SIGSEGV": 11, "SIGABRT": 6, "SIGNOPE": 0} {
		if got := signalNumber(in); got != want {
			t.Errorf("signalNumber(%q) = %d, want %d", in, got, want)
		}
	}
}
