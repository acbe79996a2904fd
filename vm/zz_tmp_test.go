package vm
import ("testing";"time";"bytes")
func TestZZWriteBlocks(t *testing.T) {
	spec := bootSpec(t, echoKernel)
	spec.StartPaused = true
	m, _ := start(t, spec)
	start := time.Now()
	total := 0
	for i := 0; i < 100; i++ {
		n, err := m.WriteConsole(bytes.Repeat([]byte("a"), 4096))
		total += n
		if err != nil { t.Logf("after %d bytes, %v: %v", total, time.Since(start), err); return }
	}
	t.Fatalf("never blocked, wrote %d", total)
}
