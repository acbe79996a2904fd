package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ukdev/ukdev/devloop"
)

// linuxWait covers the first fetch of the kernel module and a Linux boot
// under TCG (about 4-6 s here, much longer on a loaded machine).
const linuxWait = 4 * time.Minute

// TestLinuxEndToEnd runs examples/go-http-linux, a Go HTTP server that is
// the whole userland of a Linux VM: boot, an HTTP request through the
// forwarded port, an edit reloads it and the answer changes.
func TestLinuxEndToEnd(t *testing.T) {
	needQEMU(t)
	dir := copyGoExample(t, "go-http-linux")
	env := testEnv(t)
	port := freePort(t)
	tomlPath := filepath.Join(dir, "ukdev.toml")
	toml, err := os.ReadFile(tomlPath)
	if err != nil {
		t.Fatal(err)
	}
	ports := regexp.MustCompile(`(?m)^ports = \[.*\]`)
	if !ports.Match(toml) {
		t.Fatal("examples/go-http-linux/ukdev.toml has no vm ports line")
	}
	writeFile(t, tomlPath, ports.ReplaceAllString(string(toml), fmt.Sprintf(`ports = ["%d:8080"]`, port)))
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)

	s := startDev(t, dir, env)
	const banner = "hello from linux"
	first := s.waitFor("the banner", linuxWait, consoleAny(banner))
	waitHTTP(t, url, banner, linuxWait)

	const edited = "hello again from linux"
	setGoBanner(t, dir, edited)
	second := s.waitFor("the edited banner", linuxWait, func(e jsonEvent) bool {
		return e.Type == devloop.TypeVMConsole && e.Boot > first.Boot && strings.TrimSpace(e.line()) == edited
	})
	waitHTTP(t, url, edited, linuxWait)

	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("ukdev exited with status %d after SIGTERM, want 0\n%s", code, s.transcript())
	}
	waitNoQEMU(t, runtimeDirOf(t, env), quickWait)
	if !canListen(port) {
		t.Errorf("port %d is still taken after ukdev quit", port)
	}
	t.Logf("banner on boot %d, edited banner on boot %d", first.Boot, second.Boot)
}
