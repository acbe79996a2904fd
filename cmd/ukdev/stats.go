package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/ukdev/ukdev/metrics"
)

// statsFunc gets one Snapshot of the metrics of the ukdev running project.
type statsFunc func(ctx context.Context, project string) (metrics.Snapshot, error)

func newStatsCmd(a *app) *cobra.Command {
	var asJSON, watch bool
	cmd := &cobra.Command{
		Use:   "stats [project]",
		Short: "Print the metrics of a running VM: CPU, memory, I/O, dirty rate, KVM exits, app series",
		Long: `stats prints, without the dashboard, the numbers the metrics panel graphs for the VM
that ukdev runs for a project (by default the project of the current directory, or -C):
each series' newest value and its minimum, mean and maximum over the sampler's window.
With -w it prints them again every sampling interval until interrupted; with --json it
prints each snapshot as one JSON object per line (series with their points).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target := ""
			if len(args) == 1 {
				target = args[0]
			} else {
				dir, err := a.workDir()
				if err != nil {
					return err
				}
				target = dir
			}
			return a.stats(cmd.Context(), a.remoteStats, target, asJSON, watch)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each snapshot as a JSON line")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "print again every sampling interval until interrupted")
	return cmd
}

// clearScreen moves the cursor home and clears the terminal, before each
// table of stats -w on a terminal.
const clearScreen = "\x1b[H\x1b[2J"

// stats prints the snapshots get returns for target: one, or with watch
// one every sampling interval until ctx ends (which is not an error).
func (a *app) stats(ctx context.Context, get statsFunc, target string, asJSON, watch bool) error {
	clear := watch && !asJSON && isTerminal(a.stdout)
	for n := 0; ; n++ {
		snap, err := get(ctx, target)
		if err != nil {
			if watch && ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := printStats(a.stdout, snap, asJSON, clear, n); err != nil {
			return err
		}
		if !watch {
			return nil
		}
		every := time.Duration(snap.IntervalMS) * time.Millisecond
		if every <= 0 {
			every = metrics.DefaultInterval
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

// printStats prints the n-th snapshot: a JSON line, or the table (after a
// blank line from the second on, or over the last one when clear).
func printStats(w io.Writer, s metrics.Snapshot, asJSON, clear bool, n int) error {
	if asJSON {
		data, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("stats: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", data)
		return err
	}
	var sep string
	switch {
	case clear:
		sep = clearScreen
	case n > 0:
		sep = "\n"
	}
	if _, err := io.WriteString(w, sep); err != nil {
		return err
	}
	if !s.At.IsZero() {
		if _, err := fmt.Fprintf(w, "%s · ", s.At.Local().Format("15:04:05")); err != nil {
			return err
		}
	}
	return metrics.WriteText(w, s)
}
