package qmpcmd

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ukdev/ukdev/vm"
)

// Registers returns vCPU 0's registers, from HMP "info registers" (QMP
// has no command for them on x86). Outside long mode QEMU prints the
// 32-bit names (EAX, EIP, EFL); they fill the same fields.
func Registers(ctx context.Context, ex Executor) (vm.Registers, error) {
	text, err := HMP(ctx, ex, "info registers")
	if err != nil {
		return vm.Registers{}, fmt.Errorf("qemu: registers: %w", err)
	}
	r, err := parseRegisters(text)
	if err != nil {
		return vm.Registers{}, fmt.Errorf("qemu: registers: %w", err)
	}
	return r, nil
}

// parseRegisters reads the register dump of QEMU's "info registers" for
// one x86 vCPU: lines of NAME=hex pairs, names padded to three columns
// ("R8 =", "ES =").
func parseRegisters(text string) (vm.Registers, error) {
	var r vm.Registers
	fields := map[string]*uint64{
		"RAX": &r.RAX, "RBX": &r.RBX, "RCX": &r.RCX, "RDX": &r.RDX,
		"RSI": &r.RSI, "RDI": &r.RDI, "RBP": &r.RBP, "RSP": &r.RSP,
		"R8": &r.R8, "R9": &r.R9, "R10": &r.R10, "R11": &r.R11,
		"R12": &r.R12, "R13": &r.R13, "R14": &r.R14, "R15": &r.R15,
		"RIP": &r.RIP, "RFL": &r.RFLAGS,
		"EAX": &r.RAX, "EBX": &r.RBX, "ECX": &r.RCX, "EDX": &r.RDX,
		"ESI": &r.RSI, "EDI": &r.RDI, "EBP": &r.RBP, "ESP": &r.RSP,
		"EIP": &r.RIP, "EFL": &r.RFLAGS,
		"CR0": &r.CR0, "CR2": &r.CR2, "CR3": &r.CR3, "CR4": &r.CR4,
		"EFER": &r.EFER,
	}
	seen := map[string]bool{}
	for line := range strings.Lines(text) {
		// "R8 =..." pads the name; join it to its value first.
		line = strings.ReplaceAll(line, " =", "=")
		for _, tok := range strings.Fields(line) {
			name, val, ok := strings.Cut(tok, "=")
			if !ok || seen[name] {
				continue
			}
			switch name {
			case "CPL":
				n, err := strconv.Atoi(val)
				if err != nil {
					return vm.Registers{}, fmt.Errorf("parse %s=%q: %w", name, val, err)
				}
				r.CPL, seen[name] = n, true
				continue
			case "HLT":
				r.Halted, seen[name] = val == "1", true
				continue
			}
			p := fields[name]
			if p == nil {
				continue
			}
			v, err := strconv.ParseUint(val, 16, 64)
			if err != nil {
				return vm.Registers{}, fmt.Errorf("parse %s=%q: %w", name, val, err)
			}
			*p, seen[name] = v, true
		}
	}
	for _, want := range [][2]string{{"RIP", "EIP"}, {"RSP", "ESP"}, {"CR0", "CR0"}, {"CR3", "CR3"}} {
		if !seen[want[0]] && !seen[want[1]] {
			return vm.Registers{}, fmt.Errorf("no %s in %.80q", want[0], text)
		}
	}
	return r, nil
}
