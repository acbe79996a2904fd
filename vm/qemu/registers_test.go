package qemu

import "testing"

// TestMachineRegisters reads the registers of a real QEMU's guest: the
// echo kernel runs in 32-bit protected mode, without paging, with its
// stack at 0x80000 and its code at pvhCodeAddr.
func TestMachineRegisters(t *testing.T) {
	code := echoKernel()
	m, console := start(t, bootSpec(t, code))
	console.waitCount(t, "READY\n", 1)
	r, err := m.Registers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if r.CR0&1 == 0 || r.CR0&(1<<31) != 0 {
		t.Errorf("CR0 = %#x, want protected mode without paging", r.CR0)
	}
	if r.RIP < pvhCodeAddr || r.RIP >= pvhCodeAddr+uint64(len(code)) {
		t.Errorf("RIP = %#x, want inside the kernel's code at %#x", r.RIP, pvhCodeAddr)
	}
	if r.RSP > 0x80000 || r.RSP < 0x80000-64 {
		t.Errorf("RSP = %#x, want just below 0x80000", r.RSP)
	}
	if r.CPL != 0 {
		t.Errorf("CPL = %d, want 0", r.CPL)
	}
}
