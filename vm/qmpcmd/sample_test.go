package qmpcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// fakeExecutor answers commands from replies, keyed by name (and
// "query-stats vm"/"query-stats vcpu" for query-stats' targets), and
// records what it was asked: each Execute as one call, each ExecuteBatch
// (batchExecutor) as one call of all its commands.
type fakeExecutor struct {
	replies map[string]string // "return" value, or "error:Class"
	calls   [][]string
}

func key(name string, args any) string {
	if m, ok := args.(map[string]any); ok && name == "query-stats" {
		return fmt.Sprintf("%s %v", name, m["target"])
	}
	return name
}

func (f *fakeExecutor) answer(name string, args any) (json.RawMessage, error) {
	r, ok := f.replies[key(name, args)]
	if !ok {
		return nil, fmt.Errorf("fake: no reply to %s", key(name, args))
	}
	if class, isErr := strings.CutPrefix(r, "error:"); isErr {
		return nil, &Error{Command: name, Class: class, Desc: "fake"}
	}
	return json.RawMessage(r), nil
}

func (f *fakeExecutor) Execute(_ context.Context, name string, args any) (json.RawMessage, error) {
	f.calls = append(f.calls, []string{key(name, args)})
	return f.answer(name, args)
}

// batchExecutor is a fakeExecutor that can batch.
type batchExecutor struct{ fakeExecutor }

func (b *batchExecutor) ExecuteBatch(_ context.Context, cmds []Command) ([]json.RawMessage, []error) {
	var call []string
	rets := make([]json.RawMessage, len(cmds))
	errs := make([]error, len(cmds))
	for i, c := range cmds {
		call = append(call, key(c.Name, c.Args))
		rets[i], errs[i] = b.answer(c.Name, c.Args)
	}
	b.calls = append(b.calls, call)
	return rets, errs
}

var sampleReplies = map[string]string{
	"query-cpus-fast":  `[{"cpu-index": 0, "thread-id": 42}]`,
	"query-blockstats": `[{"device": "disk0", "stats": {"rd_bytes": 512, "wr_bytes": 0, "rd_operations": 1, "wr_operations": 0}}]`,
	"query-dirty-rate": `{"status": "measured", "dirty-rate": 3}`,
	"calc-dirty-rate":  `{}`,
	"query-stats vm":   `[{"provider": "kvm", "stats": [{"name": "exits", "value": 5}]}]`,
	"query-stats vcpu": `[{"provider": "kvm", "stats": [{"name": "exits", "value": 7}]}]`,
}

// TestSamplerOneRound: an executor that can batch gets a Sample's queries
// in one ExecuteBatch (on KVM the query-stats of both targets too), then
// calc-dirty-rate, which depends on query-dirty-rate's answer.
func TestSamplerOneRound(t *testing.T) {
	tests := []struct {
		name  string
		kvm   bool
		round []string
	}{
		{"tcg", false, []string{"query-cpus-fast", "query-blockstats", "query-dirty-rate"}},
		{"kvm", true, []string{"query-cpus-fast", "query-blockstats", "query-dirty-rate", "query-stats vm", "query-stats vcpu"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := &batchExecutor{fakeExecutor{replies: sampleReplies}}
			var st Sampler
			s, err := st.Sample(t.Context(), ex, tt.kvm)
			if err != nil {
				t.Fatal(err)
			}
			want := [][]string{tt.round, {"calc-dirty-rate"}}
			if !slices.EqualFunc(ex.calls, want, slices.Equal) {
				t.Errorf("calls = %q, want %q", ex.calls, want)
			}
			if len(s.VCPUs) != 1 || s.VCPUs[0].ThreadID != 42 || len(s.Block) != 1 || !s.DirtyRateOK || s.DirtyRate != 3 {
				t.Errorf("Sample = %+v", s)
			}
			if tt.kvm && s.KVM["exits"] != 12 {
				t.Errorf("KVM = %v, want exits summed over vm and vcpu (12)", s.KVM)
			}
		})
	}
}

// TestSamplerOneAtATime: an executor that cannot batch (libvirt's
// passthrough) gets the same commands one by one, and none after the
// first that fails the Sample.
func TestSamplerOneAtATime(t *testing.T) {
	ex := &fakeExecutor{replies: sampleReplies}
	var st Sampler
	s, err := st.Sample(t.Context(), ex, true)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"query-cpus-fast"}, {"query-blockstats"}, {"query-dirty-rate"}, {"calc-dirty-rate"},
		{"query-stats vm"}, {"query-stats vcpu"}}
	if !slices.EqualFunc(ex.calls, want, slices.Equal) {
		t.Errorf("calls = %q, want %q", ex.calls, want)
	}
	if s.KVM["exits"] != 12 || !s.DirtyRateOK {
		t.Errorf("Sample = %+v", s)
	}

	// QEMU does not answer query-cpus-fast: nothing more is asked.
	ex = &fakeExecutor{replies: map[string]string{}}
	if _, err := st.Sample(t.Context(), ex, true); err == nil {
		t.Error("Sample without a vCPU answer succeeded")
	}
	if want := [][]string{{"query-cpus-fast"}}; !slices.EqualFunc(ex.calls, want, slices.Equal) {
		t.Errorf("calls = %q, want %q", ex.calls, want)
	}
}

// TestSamplerMissingCommands: a command QEMU does not have is left out of
// later rounds; one it refuses now is asked again.
func TestSamplerMissingCommands(t *testing.T) {
	replies := map[string]string{
		"query-cpus-fast":  `[]`,
		"query-blockstats": "error:CommandNotFound",
		"query-dirty-rate": "error:CommandNotFound",
		"query-stats vm":   "error:GenericError",
		"query-stats vcpu": `[]`,
	}
	ex := &batchExecutor{fakeExecutor{replies: replies}}
	var st Sampler
	for range 2 {
		if _, err := st.Sample(t.Context(), ex, true); err != nil {
			t.Fatal(err)
		}
	}
	want := [][]string{
		{"query-cpus-fast", "query-blockstats", "query-dirty-rate", "query-stats vm", "query-stats vcpu"},
		{"query-cpus-fast", "query-stats vm", "query-stats vcpu"},
	}
	if !slices.EqualFunc(ex.calls, want, slices.Equal) {
		t.Errorf("calls = %q, want %q", ex.calls, want)
	}
}
