package qmpcmd

import (
	"os"
	"testing"

	"github.com/ukdev/ukdev/vm"
)

func TestParseRegisters(t *testing.T) {
	tests := []struct {
		name    string
		file    string // under testdata: QEMU 7.2's reply, verbatim
		text    string
		want    vm.Registers
		wantErr bool
	}{
		{
			name: "long mode (Linux idle)",
			file: "registers-long.txt",
			want: vm.Registers{
				RAX: 0xfffb6c20, RCX: 0x3fffffffffffdfff, RDX: 0xfffb6c20,
				RSI: 0xffffffffa3203cf0, RDI: 1, RBP: 0x16, RSP: 0xffffffffa3203e30,
				R8: 0x3fffffffffffdfff, R9: 0x9ffb, R10: 0x3fffffffffffdfff, R11: 0xffffffffa3274bc0,
				RIP: 0xffffffffa10023a5, RFLAGS: 0x246,
				CR0: 0x80050033, CR2: 0xff2b3d2d8db22000, CR3: 0xcc48000, CR4: 0x110b0, EFER: 0xd01,
			},
		},
		{
			name: "protected mode (multiboot kernel halted)",
			file: "registers-protected.txt",
			want: vm.Registers{
				RBX: 0x9500, RCX: 0x400, RSI: 1, RDI: 0x105600, RSP: 0x10525c,
				RIP: 0x100312, RFLAGS: 0x246, CR0: 0x11, Halted: true,
			},
		},
		{
			name: "user mode",
			text: "RIP=0000000000401000 RFL=00000202 [-------] CPL=3 II=0 A20=1 SMM=0 HLT=0\nRSP=00007ffc00000000\nCR0=80050033 CR2=0000000000000000 CR3=0000000001000000 CR4=00000020\n",
			want: vm.Registers{RIP: 0x401000, RFLAGS: 0x202, CPL: 3, RSP: 0x7ffc00000000, CR0: 0x80050033, CR3: 0x1000000, CR4: 0x20},
		},
		{name: "empty", text: "", wantErr: true},
		{name: "no control registers", text: "RIP=0000000000401000 RSP=0000000000000000\n", wantErr: true},
		{name: "bad hex", text: "RIP=00000000004010zz RSP=0 CR0=0 CR3=0\n", wantErr: true},
		{name: "bad CPL", text: "RIP=0 RSP=0 CR0=0 CR3=0 CPL=x\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.text
			if tt.file != "" {
				b, err := os.ReadFile("testdata/" + tt.file)
				if err != nil {
					t.Fatal(err)
				}
				text = string(b)
			}
			got, err := parseRegisters(text)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseRegisters = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("parseRegisters =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}
