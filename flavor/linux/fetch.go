package linux

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ukdev/ukdev/guestexit"
)

// ErrNoGo is returned (wrapped) when the default Linux kernel must be
// fetched but the go command is not installed.
var ErrNoGo = errors.New("the go command is not installed")

// KernelError says the default Linux kernel could not be fetched
// through the Go module cache.
type KernelError struct {
	// Module and Version name what was asked for.
	Module, Version string
	// Detail is what the go command said, or what was wrong with its
	// answer.
	Detail string
	// Err is ErrNoGo, the go command's failure, or nil.
	Err error
}

func (e *KernelError) Error() string {
	s := fmt.Sprintf("linux: fetch %s@%s", e.Module, e.Version)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s + " (or set linux.kernel in ukdev.toml to a bzImage)"
}

func (e *KernelError) Unwrap() error { return e.Err }

// ResolveKernel returns the path of vmlinuz in KernelModule at
// version (empty means DefaultKernelVersion) in the Go module cache,
// downloading the module through the Go module proxy if needed with
// `go mod download -json`. goCmd is the go command (empty means "go" in
// PATH). The command runs in a temporary directory, so no project's go.mod
// or go.work is read or changed. Errors are *KernelError.
func ResolveKernel(goCmd, version string) (string, error) {
	if goCmd == "" {
		goCmd = "go"
	}
	if version == "" {
		version = DefaultKernelVersion
	}
	kerr := &KernelError{Module: KernelModule, Version: version}
	if strings.ContainsAny(version, " @\t\n") {
		kerr.Detail = "not a module version"
		return "", kerr
	}
	bin, err := exec.LookPath(goCmd)
	if err != nil {
		kerr.Detail = fmt.Sprintf("%s not found", goCmd)
		kerr.Err = fmt.Errorf("%w (install Go from https://go.dev/dl/)", ErrNoGo)
		return "", kerr
	}
	tmp, err := os.MkdirTemp("", "ukdev-linux-kernel-")
	if err != nil {
		kerr.Err = err
		return "", kerr
	}
	defer os.RemoveAll(tmp)

	cmd := exec.Command(bin, "mod", "download", "-json", KernelModule+"@"+version)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOWORK=off", "GO111MODULE=on", "GOFLAGS=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()

	var info struct {
		Dir   string
		Error string
	}
	jsonErr := json.Unmarshal(stdout.Bytes(), &info)
	switch {
	case jsonErr == nil && info.Error != "":
		kerr.Detail = info.Error
		return "", kerr
	case runErr != nil:
		kerr.Detail = strings.TrimSpace(guestexit.OrDefault(stderr.String(), stdout.String()))
		kerr.Err = runErr
		return "", kerr
	case jsonErr != nil:
		kerr.Detail = fmt.Sprintf("unreadable answer from go mod download: %v", jsonErr)
		return "", kerr
	case info.Dir == "":
		kerr.Detail = "go mod download gave no module directory"
		return "", kerr
	}
	k := filepath.Join(info.Dir, "vmlinuz")
	if !isFile(k) {
		kerr.Detail = fmt.Sprintf("the module has no vmlinuz (looked in %s)", info.Dir)
		return "", kerr
	}
	return k, nil
}
