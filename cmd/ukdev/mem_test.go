package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/manager"
)

// scriptedMem answers mem.read with one step of its script per call, and
// ends the watch (cancel) after the last.
type scriptedMem struct {
	t      *testing.T
	steps  []memStep
	calls  int
	cancel context.CancelFunc
}

type memStep struct {
	vals []devloop.MemValue
	err  error
}

func (s *scriptedMem) Call(_ context.Context, op string, args, reply any) error {
	if op != opMemRead {
		s.t.Errorf("op %q, want %q", op, opMemRead)
	}
	if req, ok := args.(devloop.MemReadRequest); !ok || len(req.Exprs) == 0 {
		s.t.Errorf("args %#v, want a MemReadRequest", args)
	}
	step := s.steps[s.calls]
	s.calls++
	if s.calls == len(s.steps) {
		s.cancel()
	}
	if step.err != nil {
		return step.err
	}
	// Through JSON, as the control socket carries it.
	data, err := json.Marshal(step.vals)
	if err != nil {
		s.t.Fatal(err)
	}
	return json.Unmarshal(data, reply)
}

func scalar(name string, n int) devloop.MemValue {
	return devloop.MemValue{Expr: name, Symbol: name, Type: "uint32_t", Size: 4, Value: json.RawMessage(itoa(n)),
		Fields: []devloop.MemField{{Type: "uint32_t", Size: 4, Text: itoa(n)}}}
}

func itoa(n int) string { return strings.TrimSpace(string(must(json.Marshal(n)))) }

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func stats(irqs, bytesOut int) devloop.MemValue {
	return devloop.MemValue{Expr: "stats", Symbol: "stats", Type: "struct stats", Size: 8,
		Value: json.RawMessage(`{"timer_irqs":` + itoa(irqs) + `,"bytes_out":` + itoa(bytesOut) + `}`),
		Fields: []devloop.MemField{
			{Name: ".timer_irqs", Type: "uint32_t", Size: 4, Text: itoa(irqs)},
			{Name: ".bytes_out", Offset: 4, Type: "uint32_t", Size: 4, Text: itoa(bytesOut)},
		}}
}

// timeRE is the time a watch line starts with.
var timeRE = regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d\d\d  `)

func TestWatchMemPrintsOnlyChanges(t *testing.T) {
	noVM := &manager.RemoteError{Op: opMemRead, Message: "devloop: no VM is running", Code: "no-vm"}
	steps := []memStep{
		{vals: []devloop.MemValue{scalar("ticks", 1), stats(10, 5)}},
		{vals: []devloop.MemValue{scalar("ticks", 1), stats(10, 5)}}, // nothing changed
		{vals: []devloop.MemValue{scalar("ticks", 2), stats(10, 5)}},
		{vals: []devloop.MemValue{scalar("ticks", 2), stats(20, 5)}},
		{vals: []devloop.MemValue{scalar("ticks", 2), {Expr: "stats", Symbol: "stats", Err: "page not mapped"}}},
		{vals: []devloop.MemValue{scalar("ticks", 2), {Expr: "stats", Symbol: "stats", Err: "page not mapped"}}},
		{err: noVM},
		{err: noVM},
		{vals: []devloop.MemValue{scalar("ticks", 0), stats(0, 0)}}, // a new boot: all again
		{vals: []devloop.MemValue{scalar("ticks", 0), stats(0, 0)}},
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	fake := &scriptedMem{t: t, steps: steps, cancel: cancel}
	var out bytes.Buffer
	err := watchMem(ctx, fake, devloop.MemReadRequest{Exprs: []string{"ticks", "stats"}}, time.Millisecond, &out, false)
	if err != nil {
		t.Fatalf("watchMem: %v", err)
	}
	got := timeRE.ReplaceAllString(out.String(), "")
	want := `ticks = 1
stats .timer_irqs = 10  .bytes_out = 5
ticks = 2
stats .timer_irqs = 20
stats: page not mapped
no VM running
ticks = 0
stats .timer_irqs = 0  .bytes_out = 0
`
	if got != want {
		t.Errorf("watch printed:\n%s\nwant\n%s", got, want)
	}
	if fake.calls != len(steps) {
		t.Errorf("%d reads, want %d", fake.calls, len(steps))
	}
	if n := len(timeRE.FindAllString(out.String(), -1)); n != strings.Count(want, "\n") {
		t.Errorf("%d lines start with a time, want all %d", n, strings.Count(want, "\n"))
	}
}

func TestWatchMemJSON(t *testing.T) {
	steps := []memStep{
		{vals: []devloop.MemValue{scalar("ticks", 1)}},
		{vals: []devloop.MemValue{scalar("ticks", 1)}},
		{vals: []devloop.MemValue{scalar("ticks", 3)}},
		{vals: []devloop.MemValue{scalar("ticks", 3)}}, // ends the watch
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out bytes.Buffer
	if err := watchMem(ctx, &scriptedMem{t: t, steps: steps, cancel: cancel}, devloop.MemReadRequest{Exprs: []string{"ticks"}}, time.Millisecond, &out, true); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("watch --json printed %d lines, want 2:\n%s", len(lines), out.String())
	}
	var values []int
	for _, l := range lines {
		var obj struct {
			Symbol string `json:"symbol"`
			Value  int    `json:"value"`
			At     string `json:"at"`
		}
		if err := json.Unmarshal([]byte(l), &obj); err != nil || obj.Symbol != "ticks" || obj.At == "" {
			t.Fatalf("line %q: %+v, %v", l, obj, err)
		}
		values = append(values, obj.Value)
	}
	if values[0] != 1 || values[1] != 3 {
		t.Errorf("values %v, want [1 3]", values)
	}
}

func TestWatchMemConnectionLost(t *testing.T) {
	lost := errors.New("manager: mem.read to hello: broken pipe")
	steps := []memStep{{vals: []devloop.MemValue{scalar("ticks", 1)}}, {err: lost}, {err: lost}}
	var out bytes.Buffer
	err := watchMem(t.Context(), &scriptedMem{t: t, steps: steps, cancel: func() {}}, devloop.MemReadRequest{Exprs: []string{"ticks"}}, time.Millisecond, &out, false)
	if !errors.Is(err, lost) {
		t.Errorf("watchMem = %v, want the connection's error", err)
	}
}

func TestPrintMemValues(t *testing.T) {
	vals := []devloop.MemValue{
		{Expr: "ticks", Symbol: "ticks", Address: 0x1052c4, Read: 0x1052c4, Type: "volatile uint32_t", Size: 4, Value: json.RawMessage(`42`),
			Fields: []devloop.MemField{{Type: "volatile uint32_t", Size: 4, Text: "42 (0x2a)"}}},
		{Expr: "stats", Symbol: "stats", Address: 0x1052a0, Read: 0x1052a0, Type: "struct stats", Size: 8,
			Value: json.RawMessage(`{"boot_protocol":1,"timer_irqs":7}`),
			Fields: []devloop.MemField{
				{Name: ".boot_protocol", Type: "uint32_t", Size: 4, Text: "1 (0x1)"},
				{Name: ".timer_irqs", Offset: 4, Type: "uint32_t", Size: 4, Text: "7 (0x7)"},
			}},
		{Expr: "nosuch", Err: `devloop: no symbol "nosuch"`},
	}
	var text bytes.Buffer
	err := printMemValues(&text, vals, false)
	var failed memErrors
	if !errors.As(err, &failed) || len(failed) != 1 || !strings.Contains(failed[0], "nosuch") {
		t.Errorf("printMemValues = %v, want the failed expression", err)
	}
	want := `ticks = 42 (0x2a)  · volatile uint32_t, 4 bytes at 0x001052c4
stats: struct stats, 8 bytes at 0x001052a0
  .boot_protocol  +0  uint32_t  1 (0x1)
  .timer_irqs     +4  uint32_t  7 (0x7)
`
	if text.String() != want {
		t.Errorf("text:\n%s\nwant\n%s", text.String(), want)
	}

	var js bytes.Buffer
	_ = printMemValues(&js, vals[:2], true)
	wantJSON := `{"symbol":"ticks","address":1069764,"type":"volatile uint32_t","size":4,"value":42}
{"symbol":"stats","address":1069728,"type":"struct stats","size":8,"value":{"boot_protocol":1,"timer_irqs":7}}
`
	if js.String() != wantJSON {
		t.Errorf("JSON:\n%s\nwant\n%s", js.String(), wantJSON)
	}
}

func TestPrintMemSymsAndDump(t *testing.T) {
	syms := []devloop.MemSymbol{
		{Name: "stats", Address: 0x1052a0, Size: 36, Type: "volatile struct stats", Section: ".bss"},
		{Name: "ticks", Address: 0x1052c4, Size: 4, Type: "volatile uint32_t", Section: ".bss"},
	}
	var out bytes.Buffer
	if err := printMemSyms(&out, syms, false); err != nil {
		t.Fatal(err)
	}
	want := `NAME   ADDRESS     SIZE  TYPE                   SECTION
stats  0x001052a0  36    volatile struct stats  .bss
ticks  0x001052c4  4     volatile uint32_t      .bss
`
	if out.String() != want {
		t.Errorf("syms:\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	if err := printMemSyms(&out, syms[1:], true); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != `{"name":"ticks","address":1069764,"size":4,"type":"volatile uint32_t","section":".bss"}`+"\n" {
		t.Errorf("syms --json: %s", got)
	}

	out.Reset()
	d := devloop.MemDump{Address: 0x1052b0, Data: []byte("0123456789abcdefXYZ"), Lines: []string{"stats+0x10", ""}}
	if err := printMemDump(&out, d); err != nil {
		t.Fatal(err)
	}
	want = `001052b0  30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66  |0123456789abcdef|  stats+0x10
001052c0  58 59 5a                                         |XYZ|
`
	if out.String() != want {
		t.Errorf("dump:\n%s\nwant\n%s", out.String(), want)
	}
}

func TestParseLength(t *testing.T) {
	for in, want := range map[string]uint64{"16": 16, "0x10": 16, "0X20": 32} {
		if got, err := parseLength(in); err != nil || got != want {
			t.Errorf("parseLength(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "-1", "x", "0x"} {
		if _, err := parseLength(in); err == nil {
			t.Errorf("parseLength(%q) = nil error", in)
		}
	}
}
