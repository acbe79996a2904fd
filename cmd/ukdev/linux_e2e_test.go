package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// linuxWait covers the first fetch of the kernel module and a Linux boot
// under TCG (about 4-6 s here, much longer on a loaded machine).
const linuxWait = 4 * time.Minute

// linuxProject is examples/go-http-linux, a Go HTTP server that is the
// whole userland of a Linux VM, set to forward port to its 8080.
func linuxProject(t *testing.T, port int) string {
	needQEMU(t)
	dir := copyGoExample(t, "go-http-linux")
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
	return dir
}
