package console

import (
	"context"
	"io"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/tui/panel"
)

// host stands in for the dashboard's root: q and ctrl+c quit unless the
// console captures the keyboard.
type host struct{ c *Model }

func (h host) Init() tea.Cmd { return nil }

func (h host) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && !h.c.Capturing() && (k.String() == "q" || k.String() == "ctrl+c") {
		return h, tea.Quit
	}
	_, cmd := h.c.Update(msg)
	return h, cmd
}

func (h host) View() tea.View { return tea.NewView(h.c.View()) }

// notifyingControl signals every console write.
type notifyingControl struct {
	fakeControl
	wrote chan struct{}
}

func (n *notifyingControl) WriteConsole(p []byte) error {
	err := n.fakeControl.WriteConsole(p)
	n.wrote <- struct{}{}
	return err
}

// TestTerminalBytesThroughBubbleTea types raw terminal bytes into a real
// Bubble Tea program: they are decoded to keys, and the console sends the
// guest the same bytes back, ctrl+c included, without quitting.
func TestTerminalBytesThroughBubbleTea(t *testing.T) {
	ctrl := &notifyingControl{wrote: make(chan struct{}, 64)}
	m := New(panel.Deps{Styles: panel.NewStyles(false), Control: ctrl})
	m.SetSize(40, 5)
	in, typing := io.Pipe()
	defer typing.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := tea.NewProgram(host{c: m}, tea.WithInput(in), tea.WithOutput(io.Discard), tea.WithoutSignals(),
		tea.WithContext(ctx), tea.WithWindowSize(40, 5))
	const want = "echo hi\r\x03\x1b[A\x7f"
	ran := make(chan error, 1)
	go func() {
		_, err := p.Run()
		ran <- err
	}()
	// i: input mode; the guest gets "echo hi", enter, ctrl+c, up and
	// backspace.
	if _, err := typing.Write([]byte("i" + want)); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for ctrl.sent() != want {
		select {
		case <-ctrl.wrote:
		case err := <-ran:
			t.Fatalf("program ended (%v) before the guest got %q; it got %q", err, want, ctrl.sent())
		case <-deadline:
			t.Fatalf("guest got %q, want %q", ctrl.sent(), want)
		}
	}
	// ctrl+] leaves input mode; k scrolls; q quits.
	if _, err := typing.Write([]byte("\x1dkq")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("program: %v", err)
		}
	case <-deadline:
		t.Fatal("q did not quit after ctrl+] left input mode")
	}
	if got := ctrl.sent(); got != want {
		t.Errorf("guest got %q after leaving input mode, want %q", got, want)
	}
	if m.Capturing() {
		t.Error("ctrl+] did not leave input mode")
	}
}
