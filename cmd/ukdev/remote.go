package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/manager"
	"github.com/ukdev/ukdev/metrics"
)

// The control-socket operations this binary adds to manager's own, served
// by every loop (serveControl) and asked by ukdev gdb and ukdev stats.
const (
	opGDB     = "gdb"
	opStats   = "stats"
	opMemRead = "mem.read"
	opMemSyms = "mem.syms"
	opMemDump = "mem.dump"
)

// memSymsArgs are the arguments of the mem.syms operation.
type memSymsArgs struct {
	Pattern string `json:"pattern,omitempty"`
}

// gdbArgs are the arguments of the gdb operation.
type gdbArgs struct {
	// TCP opens the stub on a free loopback port instead of a unix socket.
	TCP bool `json:"tcp,omitempty"`
}

// handleRemote registers the gdb, stats and mem.* operations on srv,
// answered by loop.
func handleRemote(srv *manager.Server, loop *devloop.Loop) {
	srv.Handle(opGDB, func(ctx context.Context, raw json.RawMessage) (any, error) {
		var args gdbArgs
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &args); err != nil {
				return nil, fmt.Errorf("gdb: bad arguments: %w", err)
			}
		}
		return loop.OpenGDB(ctx, args.TCP)
	})
	srv.Handle(opStats, func(ctx context.Context, _ json.RawMessage) (any, error) {
		return loop.Metrics().Collect(ctx)
	})
	srv.Handle(opMemRead, func(ctx context.Context, raw json.RawMessage) (any, error) {
		var args devloop.MemReadRequest
		if err := decodeArgs(opMemRead, raw, &args); err != nil {
			return nil, err
		}
		return loop.MemRead(ctx, args)
	})
	srv.Handle(opMemSyms, func(ctx context.Context, raw json.RawMessage) (any, error) {
		var args memSymsArgs
		if err := decodeArgs(opMemSyms, raw, &args); err != nil {
			return nil, err
		}
		return loop.MemSyms(ctx, args.Pattern)
	})
	srv.Handle(opMemDump, func(ctx context.Context, raw json.RawMessage) (any, error) {
		var args devloop.MemDumpRequest
		if err := decodeArgs(opMemDump, raw, &args); err != nil {
			return nil, err
		}
		return loop.MemDump(ctx, args)
	})
}

// decodeArgs decodes an operation's arguments, when it has any.
func decodeArgs(op string, raw json.RawMessage, args any) error {
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, args); err != nil {
		return fmt.Errorf("%s: bad arguments: %w", op, err)
	}
	return nil
}

// targetArgs turns an optional project argument into findTarget's.
func targetArgs(project string) []string {
	if project == "" {
		return nil
	}
	return []string{project}
}

// remoteGDB asks the ukdev that runs project's VM (the work directory's
// project when project is empty) to open QEMU's gdb stub on it, on a
// loopback port with tcp, and returns how to attach.
func (a *app) remoteGDB(ctx context.Context, project string, tcp bool) (devloop.GDBSession, error) {
	v, c, err := a.dialTarget(ctx, targetArgs(project))
	if err != nil {
		return devloop.GDBSession{}, fmt.Errorf("gdb: %w", err)
	}
	defer c.Close()
	var s devloop.GDBSession
	if err := c.Call(ctx, opGDB, gdbArgs{TCP: tcp}, &s); err != nil {
		return devloop.GDBSession{}, fmt.Errorf("gdb: %s: %w", v.Project, err)
	}
	return s, nil
}

// remoteStats asks the ukdev that runs project (a project name, or a
// directory inside a project) for a Snapshot of its metrics sampler,
// sampled once more since the call.
func (a *app) remoteStats(ctx context.Context, project string) (metrics.Snapshot, error) {
	v, c, err := a.dialTarget(ctx, targetArgs(project))
	if err != nil {
		return metrics.Snapshot{}, fmt.Errorf("stats: %w", err)
	}
	defer c.Close()
	var snap metrics.Snapshot
	if err := c.Call(ctx, opStats, nil, &snap); err != nil {
		return metrics.Snapshot{}, fmt.Errorf("stats: %s: %w", v.Project, err)
	}
	return snap, nil
}
