package main

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ukdev/ukdev/devloop"
)

// memJSON is a line of ukdev mem read --json.
type memJSON struct {
	Symbol  string          `json:"symbol"`
	Address uint64          `json:"address"`
	Type    string          `json:"type"`
	Size    uint64          `json:"size"`
	Value   json.RawMessage `json:"value"`
}

// TestMemCommandsEndToEnd: ukdev mem against the VM of a ukdev dev on
// examples/hello, from a second ukdev: typed reads that change between
// calls, a struct as a JSON object, a hex dump with its symbol, the data
// symbols, a watch that prints changes, clear failures, and reads of the
// VM frozen by a crash.
func TestMemCommandsEndToEnd(t *testing.T) {
	dir, env := helloProject(t, "")
	s := startDev(t, dir, env)
	s.waitFor("the banner", bootWait, consoleLine(1, helloBanner))

	waitTicksGrow(t, dir, env)

	r := runCLIWithin(t, quickWait, dir, env, "", "mem", "read", "stats", "--json")
	var st memJSON
	if r.code != 0 || json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &st) != nil || st.Size != 36 {
		t.Fatalf("ukdev mem read stats --json:\n%s", r)
	}
	var fields map[string]uint64
	if err := json.Unmarshal(st.Value, &fields); err != nil {
		t.Fatalf("stats' value is not an object of numbers: %s", st.Value)
	}
	if fields["boot_protocol"] == 0 || fields["timer_irqs"] == 0 || len(fields) != 9 {
		t.Errorf("stats = %v, want its 9 members, booted and counting timer interrupts", fields)
	}

	r = runCLIWithin(t, quickWait, dir, env, "", "mem", "dump", "stats", "16")
	dump := regexp.MustCompile(`^[0-9a-f]{8}  (?:[0-9a-f]{2} ){16} \|.{16}\|  stats$`)
	if r.code != 0 || len(strings.Split(strings.TrimSpace(r.stdout), "\n")) != 1 || !dump.MatchString(strings.TrimSpace(r.stdout)) {
		t.Fatalf("ukdev mem dump stats 16 is not one hex line of stats:\n%s", r)
	}

	r = runCLIWithin(t, quickWait, dir, env, "", "mem", "syms", "tick")
	if r.code != 0 || !regexp.MustCompile(`(?m)^ticks +0x[0-9a-f]{8} +4 +volatile uint32_t +\.bss$`).MatchString(r.stdout) ||
		strings.Contains(r.stdout, "stats") {
		t.Fatalf("ukdev mem syms tick:\n%s", r)
	}

	w := startFollower(t, dir, env, "mem", "watch", "ticks", "--interval", "200ms")
	line := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3}  ticks = (\d+) `)
	var seen []string
	w.waitFor("two values of ticks", bootWait, func(l string) bool {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("ukdev mem watch printed %q", l)
		}
		if len(seen) > 0 && seen[len(seen)-1] == m[1] {
			t.Fatalf("ukdev mem watch printed an unchanged value: %q", w.raw)
		}
		seen = append(seen, m[1])
		return len(seen) >= 3
	})
	if code := w.stop(syscall.SIGINT); code != 0 {
		t.Errorf("ukdev mem watch exited %d after SIGINT\n%s", code, w.transcript())
	}

	r = runCLIWithin(t, quickWait, dir, env, "", "mem", "read", "no_such_variable")
	if r.code == 0 || !strings.Contains(r.stderr, `no symbol "no_such_variable"`) {
		t.Errorf("ukdev mem read of an unknown symbol:\n%s", r)
	}
	r = runCLIWithin(t, quickWait, dir, env, "", "mem", "read", "0xfff00000", "--type", "u32")
	if r.code == 0 || !strings.Contains(r.stderr, "not mapped") {
		t.Errorf("ukdev mem read of an unmapped page:\n%s", r)
	}

	// A crashed VM is frozen for inspection: still readable, not moving.
	s.send("crash")
	s.waitFor("the crash", bootWait, isType(devloop.TypeVMExit))
	frozen := readTicks(t, dir, env)
	if again := readTicks(t, dir, env); again != frozen {
		t.Errorf("ticks of the frozen VM moved from %d to %d", frozen, again)
	}

	s.quit()
	start := time.Now()
	r = runCLIWithin(t, quickWait, dir, env, "", "mem", "read", "ticks")
	if r.code == 0 || r.stderr == "" {
		t.Errorf("ukdev mem read with no ukdev running (after %s):\n%s", time.Since(start), r)
	}
}

// readTicks reads the example's ticks with `ukdev mem read ticks --json`
// from the ukdev running in dir, checking what it says of the symbol.
func readTicks(t *testing.T, dir string, env []string) uint64 {
	t.Helper()
	r := runCLIWithin(t, bootWait, dir, env, "", "mem", "read", "ticks", "--json")
	var v memJSON
	if r.code != 0 || json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &v) != nil {
		t.Fatalf("ukdev mem read ticks --json:\n%s", r)
	}
	if v.Symbol != "ticks" || v.Size != 4 || v.Address == 0 || !strings.Contains(v.Type, "uint32_t") {
		t.Fatalf("ukdev mem read ticks --json = %+v", v)
	}
	n, err := strconv.ParseUint(string(v.Value), 10, 64)
	if err != nil {
		t.Fatalf("ticks' value %s is not a number", v.Value)
	}
	return n
}

// waitTicksGrow reads ticks until it grows past its first reading: the
// guest runs, and ukdev mem reads its memory live.
func waitTicksGrow(t *testing.T, dir string, env []string) {
	t.Helper()
	first := readTicks(t, dir, env)
	if !pollUntil(bootWait, func() bool { return readTicks(t, dir, env) > first }) {
		t.Fatalf("ticks did not grow past %d", first)
	}
}
