package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/manager"
)

// defaultMemInterval is how often ukdev mem watch reads.
const defaultMemInterval = 500 * time.Millisecond

// memCaller is the control-socket call ukdev mem makes (manager.Client).
type memCaller interface {
	Call(ctx context.Context, op string, args, reply any) error
}

func newMemCmd(a *app) *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:   "mem",
		Short: "Read the memory of a running VM: variables, addresses, symbols, hex dumps",
		Long: `mem reads the memory of the VM that ukdev runs for a project (by default the project
of the current directory, or -C; --project names another by name or directory), running or
frozen after a crash, through that ukdev: typed by the image's debug symbols.

An expression is a symbol or an address (0x hex or decimal), with an optional +offset:
ticks, stats+4, 0x101b80, 0x101b80+0x10. An address needs --type: u8, u16, u32, u64,
i8...i64, f32, f64, bool, ptr, char, char[N] (a C string), bytes[N], or an array such as
u32[4]. Addresses are the symbols' (virtual) ones; --phys reads guest-physical memory.`,
	}
	cmd.PersistentFlags().StringVarP(&project, "project", "p", "", "the running project: a name or a directory in it (default: the current directory)")
	cmd.AddCommand(newMemReadCmd(a, &project), newMemWatchCmd(a, &project), newMemSymsCmd(a, &project), newMemDumpCmd(a, &project))
	return cmd
}

// memConn is a connection to the ukdev that runs a project.
type memConn struct {
	vm manager.VM
	c  *manager.Client
}

// dialMem connects to the ukdev that runs project ("" : the work
// directory's).
func (a *app) dialMem(ctx context.Context, op, project string) (memConn, error) {
	v, c, err := a.dialTarget(ctx, targetArgs(project))
	if err != nil {
		return memConn{}, fmt.Errorf("mem %s: %w", op, err)
	}
	return memConn{vm: v, c: c}, nil
}

// explain says what a failed call means for the user.
func (m memConn) explain(op string, err error) error {
	switch {
	case errors.Is(err, devloop.ErrNoVM):
		return fmt.Errorf("mem %s: %s has no VM running (state %s)", op, m.vm.Project, m.vm.State)
	case errors.Is(err, manager.ErrUnknownOp):
		return fmt.Errorf("mem %s: the ukdev running %s (pid %d) does not serve memory reads: restart it with this version", op, m.vm.Project, m.vm.PID)
	}
	return fmt.Errorf("mem %s: %s: %w", op, m.vm.Project, err)
}

func newMemReadCmd(a *app, project *string) *cobra.Command {
	var req devloop.MemReadRequest
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "read <symbol|addr>[+off]...",
		Short: "Print the values of variables or typed addresses",
		Long: `read prints each expression's value: a scalar on one line, a struct member by member.
With --json it prints one object per expression and line: symbol, address, type, size
and value (a number for integers and enums, an object keyed by member name for structs,
an array for arrays, a string for C strings).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			m, err := a.dialMem(ctx, "read", *project)
			if err != nil {
				return err
			}
			defer m.c.Close()
			req.Exprs = args
			var vals []devloop.MemValue
			if err := m.c.Call(ctx, opMemRead, req, &vals); err != nil {
				return m.explain("read", err)
			}
			return printMemValues(a.stdout, vals, asJSON)
		},
	}
	cmd.Flags().StringVarP(&req.Type, "type", "t", "", "read as this `type` (u32, i64, char[16], u8[8]...)")
	cmd.Flags().BoolVar(&req.Phys, "phys", false, "read addresses as guest-physical")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per expression")
	return cmd
}

// memErrors is the error of expressions that could not be read, after
// the others were printed.
type memErrors []string

func (e memErrors) Error() string { return "mem: " + strings.Join(e, "; ") }

// printMemValues prints values as text or JSON lines; the expressions
// that failed make the error (printed by main, exit status 1).
func printMemValues(w io.Writer, vals []devloop.MemValue, asJSON bool) error {
	var failed memErrors
	for _, v := range vals {
		if v.Err != "" {
			failed = append(failed, v.Expr+": "+v.Err)
			continue
		}
		var err error
		if asJSON {
			err = writeMemJSON(w, v, false)
		} else {
			_, err = io.WriteString(w, memText(v))
		}
		if err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return failed
	}
	return nil
}

// memJSONLine is what ukdev mem read --json prints for one value.
type memJSONLine struct {
	Symbol  string          `json:"symbol"`
	Address uint64          `json:"address"`
	Type    string          `json:"type"`
	Size    uint64          `json:"size"`
	Value   json.RawMessage `json:"value,omitempty"`
	At      string          `json:"at,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// writeMemJSON prints v as one JSON line, with its time for a watch.
func writeMemJSON(w io.Writer, v devloop.MemValue, withTime bool) error {
	line := memJSONLine{Symbol: v.Symbol, Address: v.Address, Type: v.Type, Size: v.Size, Value: v.Value, Error: v.Err}
	if line.Symbol == "" {
		line.Symbol = v.Expr
	}
	if line.Value == nil && v.Err == "" {
		line.Value = json.RawMessage("null")
	}
	if withTime {
		line.At = v.At.Format(time.RFC3339Nano)
	}
	data, err := json.Marshal(line)
	if err != nil {
		return fmt.Errorf("mem: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}

// memText is a value as ukdev mem read prints it: "ticks = 42 (0x2a)
// · volatile uint32_t, 4 bytes at 0x00101c04", or a header and one line
// per member.
func memText(v devloop.MemValue) string {
	where := fmt.Sprintf("%s, %d bytes at 0x%08x", v.Type, v.Size, v.Address)
	if v.Virtual && v.Read != v.Address {
		where += fmt.Sprintf(" (virtual %#x)", v.Read)
	} else if !v.Virtual && v.Read != v.Address {
		where += fmt.Sprintf(" (physical %#x)", v.Read)
	}
	name := v.Symbol
	if name == "" {
		name = v.Expr
	}
	if len(v.Fields) == 1 && v.Fields[0].Name == "" {
		return fmt.Sprintf("%s = %s  · %s\n", name, v.Fields[0].Text, where)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", name, where)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, f := range v.Fields {
		fmt.Fprintf(tw, "  %s\t+%d\t%s\t%s\n", f.Name, f.Offset, f.Type, f.Text)
	}
	tw.Flush()
	return b.String()
}

func newMemWatchCmd(a *app, project *string) *cobra.Command {
	var req devloop.MemReadRequest
	var asJSON bool
	interval := defaultMemInterval
	cmd := &cobra.Command{
		Use:   "watch <symbol|addr>[+off]...",
		Short: "Print a line each time a variable changes, until interrupted",
		Long: `watch reads the expressions every interval and prints a line for each one whose
value changed (and the first values): never a line for an unchanged value. For a struct
the line names the members that changed. With --json each line is an object as mem read
--json prints, with the time it was read.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if interval <= 0 {
				return fmt.Errorf("mem watch: --interval must be positive")
			}
			m, err := a.dialMem(ctx, "watch", *project)
			if err != nil {
				return err
			}
			defer m.c.Close()
			req.Exprs = args
			err = watchMem(ctx, m.c, req, interval, a.stdout, asJSON)
			if err != nil && ctx.Err() == nil {
				return m.explain("watch", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&req.Type, "type", "t", "", "read as this `type` (u32, i64, char[16], u8[8]...)")
	cmd.Flags().BoolVar(&req.Phys, "phys", false, "read addresses as guest-physical")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each change as a JSON object")
	cmd.Flags().DurationVarP(&interval, "interval", "i", interval, "how often to read")
	return cmd
}

// watchState is what a watch printed last for one expression.
type watchState struct {
	value  string
	err    string
	fields map[string]string
}

// watchMem reads req every interval until ctx ends (a nil error then) and
// prints a line per value that changed since its last line. A VM that
// goes away, or a read that fails as a whole, is one line each time it
// changes; a connection that fails ends the watch with its error.
func watchMem(ctx context.Context, c memCaller, req devloop.MemReadRequest, interval time.Duration, w io.Writer, asJSON bool) error {
	last := make([]watchState, len(req.Exprs))
	lastErr := ""
	for {
		var vals []devloop.MemValue
		err := c.Call(ctx, opMemRead, req, &vals)
		var re *manager.RemoteError
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.As(err, &re):
			if msg := re.Error(); msg != lastErr {
				lastErr = msg
				if errors.Is(err, devloop.ErrNoVM) {
					msg = "no VM running"
				}
				if err := writeWatchError(w, time.Now(), req.Exprs, msg, asJSON); err != nil {
					return err
				}
			}
			// Values after this are new: print them all again.
			last = make([]watchState, len(req.Exprs))
		case err != nil:
			return err
		default:
			lastErr = ""
			for i, v := range vals {
				if i >= len(last) {
					break
				}
				if err := printChange(w, &last[i], v, asJSON); err != nil {
					return err
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// writeWatchError prints that the whole read failed.
func writeWatchError(w io.Writer, at time.Time, exprs []string, msg string, asJSON bool) error {
	if asJSON {
		for _, e := range exprs {
			if err := writeMemJSON(w, devloop.MemValue{Expr: e, Err: msg, At: at}, true); err != nil {
				return err
			}
		}
		return nil
	}
	_, err := fmt.Fprintf(w, "%s  %s\n", at.Format("15:04:05.000"), msg)
	return err
}

// printChange prints v when it differs from what st says was printed
// last, and records it.
func printChange(w io.Writer, st *watchState, v devloop.MemValue, asJSON bool) error {
	value := string(v.Value)
	if st.fields != nil && v.Err == st.err && value == st.value {
		return nil
	}
	prev := st.fields
	st.value, st.err, st.fields = value, v.Err, make(map[string]string, len(v.Fields))
	for _, f := range v.Fields {
		st.fields[f.Name] = f.Text
	}
	at := v.At
	if at.IsZero() {
		at = time.Now()
	}
	if asJSON {
		v.At = at
		return writeMemJSON(w, v, true)
	}
	name := v.Symbol
	if name == "" {
		name = v.Expr
	}
	var line string
	switch {
	case v.Err != "":
		line = name + ": " + v.Err
	case len(v.Fields) == 1 && v.Fields[0].Name == "":
		line = name + " = " + v.Fields[0].Text
	default:
		var parts []string
		for _, f := range v.Fields {
			if old, ok := prev[f.Name]; !ok || old != f.Text {
				parts = append(parts, f.Name+" = "+f.Text)
			}
		}
		line = name + " " + strings.Join(parts, "  ")
	}
	_, err := fmt.Fprintf(w, "%s  %s\n", at.Format("15:04:05.000"), line)
	return err
}

func newMemSymsCmd(a *app, project *string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "syms [pattern]",
		Short: "List the running image's data symbols: name, address, size, type, section",
		Long: `syms lists the data symbols (variables) of the image the VM runs, by address, with
their DWARF type and section. A pattern with *, ? or [ is a glob on the whole name;
otherwise it is a substring, in any case. With --json it prints one object per symbol.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			m, err := a.dialMem(ctx, "syms", *project)
			if err != nil {
				return err
			}
			defer m.c.Close()
			var arg memSymsArgs
			if len(args) == 1 {
				arg.Pattern = args[0]
			}
			var syms []devloop.MemSymbol
			if err := m.c.Call(ctx, opMemSyms, arg, &syms); err != nil {
				return m.explain("syms", err)
			}
			return printMemSyms(a.stdout, syms, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per symbol")
	return cmd
}

// printMemSyms prints symbols as a table or JSON lines.
func printMemSyms(w io.Writer, syms []devloop.MemSymbol, asJSON bool) error {
	if asJSON {
		for _, s := range syms {
			data, err := json.Marshal(s)
			if err != nil {
				return fmt.Errorf("mem syms: %w", err)
			}
			if _, err := fmt.Fprintf(w, "%s\n", data); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tADDRESS\tSIZE\tTYPE\tSECTION")
	for _, s := range syms {
		fmt.Fprintf(tw, "%s\t0x%08x\t%d\t%s\t%s\n", s.Name, s.Address, s.Size, s.Type, s.Section)
	}
	return tw.Flush()
}

func newMemDumpCmd(a *app, project *string) *cobra.Command {
	var req devloop.MemDumpRequest
	cmd := &cobra.Command{
		Use:   "dump <symbol|addr>[+off] [len]",
		Short: "Print memory as hex and ASCII, with the symbol that covers each line",
		Long: fmt.Sprintf(`dump prints len bytes (0x hex or decimal; default: the symbol's size, or 64 bytes at an
address; at most %d) as hex and ASCII, 16 a line, each with the symbol that covers it.`, devloop.MaxMemRead),
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			req.Expr = args[0]
			if len(args) == 2 {
				n, err := parseLength(args[1])
				if err != nil {
					return fmt.Errorf("mem dump: length %q: %w", args[1], err)
				}
				req.Len = n
			}
			m, err := a.dialMem(ctx, "dump", *project)
			if err != nil {
				return err
			}
			defer m.c.Close()
			var d devloop.MemDump
			if err := m.c.Call(ctx, opMemDump, req, &d); err != nil {
				return m.explain("dump", err)
			}
			return printMemDump(a.stdout, d)
		},
	}
	cmd.Flags().BoolVar(&req.Phys, "phys", false, "read the address as guest-physical")
	return cmd
}

// parseLength reads a dump length: 0x hex or decimal, more than 0.
func parseLength(s string) (uint64, error) {
	var n uint64
	var err error
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		n, err = strconv.ParseUint(h, 16, 64)
	} else {
		n, err = strconv.ParseUint(s, 10, 64)
	}
	if err == nil && n == 0 {
		err = errors.New("must be more than 0")
	}
	return n, err
}

// printMemDump prints a dump's lines, each followed by its symbol.
func printMemDump(w io.Writer, d devloop.MemDump) error {
	for i, l := range devloop.HexDump(d.Address, d.Data, devloop.DumpLine) {
		if i < len(d.Lines) && d.Lines[i] != "" {
			l += "  " + d.Lines[i]
		}
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return nil
}
