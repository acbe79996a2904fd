package builder

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"unsafe"

	"github.com/ukdev/ukdev/internal/procfs"
	"golang.org/x/sys/unix"
)

// The build supervisor makes the whole build die with ukdev, however ukdev
// ends: SIGKILL and crashes included.
//
// Pdeathsig alone cannot do that: it reaches only the direct child (the
// shell), not make or the compiler below it, and it fires when the thread
// that started the child exits, not the process. Instead Run starts a small
// supervisor (the ukdev binary itself, re-executed through Builder.Supervisor
// with SupervisorArg) which
//
//   - is the leader of the build's process group, and starts `sh -c
//     Command` in that group with the build's stdin, stdout and stderr
//     passed straight through, so cancelling (SIGTERM to the group, SIGKILL
//     after Grace) and the exit status work as without it;
//   - holds the read end of a pipe (the lifeline) whose only write end is in
//     ukdev, close-on-exec so that QEMU and the build never inherit it: the
//     kernel closes it when ukdev dies in any way, so end of file on the
//     lifeline means ukdev is gone;
//   - is a child subreaper (PR_SET_CHILD_SUBREAPER), so processes orphaned
//     inside the build, even ones that left the group with setsid, are
//     reparented to it rather than to init, and it can find them.
//
// At end of file on the lifeline it SIGKILLs every process of the group and
// every child it has, again until none is left (a killed process's children
// become its children), and exits. When the shell exits first, the
// supervisor exits with the shell's status, or dies of the shell's signal,
// and Run handles what the build left in its group as it does without a
// supervisor (killed after Grace if it still holds the build's output).
//
// A cgroup would hold the tree as well, but needs a delegated cgroup v2
// subtree that many machines and containers do not give; a subreaper works
// for any user on any Linux since 3.4.

// SupervisorArg, as the first argument of the executable named by
// Builder.Supervisor, selects the build supervisor: that program's main must
// call RunSupervisor (through IsSupervisor) before anything else.
const SupervisorArg = "__ukdev-build-supervisor"

// SelfExe names the running executable. It is what cmd/ukdev sets as
// Builder.Supervisor: the kernel resolves it at exec time, so the
// supervisor is the same binary even if the file was replaced since.
const SelfExe = "/proc/self/exe"

// lifelineFD is the supervisor's file descriptor for the lifeline (the
// first of exec.Cmd.ExtraFiles).
const lifelineFD = 3

// goFD is a spare supervisor's go pipe (see Prestart): goMessage and the
// directory to enter start the build; end of file without them releases
// the supervisor.
const goFD = 4

// The supervisor's modes, its second argument: start the build at once, or
// wait on goFD (a spare).
const (
	modeNow   = "now"
	modeSpare = "spare"
)

// maxKillRounds bounds the kill loop: a round kills every process then
// visible; a new one can only come from a process forked before it was
// killed, so a few rounds always suffice.
const maxKillRounds = 100

// IsSupervisor reports whether args (os.Args) start the build supervisor.
func IsSupervisor(args []string) bool {
	return len(args) >= 2 && args[1] == SupervisorArg
}

// RunSupervisor runs the build supervisor for args (os.Args: the program,
// SupervisorArg, the mode and the command) and returns the exit status for
// os.Exit. When the shell was killed by a signal, RunSupervisor does not
// return: the supervisor dies of the same signal, so that its parent sees
// the status the shell had.
func RunSupervisor(args []string) int {
	if len(args) != 4 || args[1] != SupervisorArg || (args[2] != modeNow && args[2] != modeSpare) {
		fmt.Fprintf(os.Stderr, "ukdev: build supervisor: want %s now|spare COMMAND, got %q\n", SupervisorArg, args[1:])
		return 2
	}
	spare, command := args[2] == modeSpare, args[3]
	if !isPipe(lifelineFD) {
		fmt.Fprintln(os.Stderr, "ukdev: build supervisor: no lifeline pipe on fd 3 (it is started by ukdev's builder, not by hand)")
		return 2
	}
	// The build must not hold ukdev's plumbing: only ukdev's end of the
	// lifeline matters, but a build that keeps fds open should not see it.
	unix.CloseOnExec(lifelineFD)
	if spare {
		if !isPipe(goFD) {
			fmt.Fprintln(os.Stderr, "ukdev: build supervisor: no go pipe on fd 4")
			return 2
		}
		unix.CloseOnExec(goFD)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "ukdev: build supervisor: become a subreaper: %v\n", err)
		return 126
	}
	// Run signals the whole group; the supervisor is in it and must
	// outlive the shell to report its status. Caught, not ignored: an
	// ignored signal would stay ignored in the shell across exec.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT)
	go func() {
		for range sigs {
		}
	}()

	lifeline := make(chan struct{})
	go func() {
		defer close(lifeline)
		f := os.NewFile(lifelineFD, "lifeline")
		_, _ = io.Copy(io.Discard, f) // returns at EOF: ukdev is gone
	}()
	if spare {
		launch := make(chan []byte, 1)
		go func() {
			msg, _ := io.ReadAll(os.NewFile(goFD, "go"))
			launch <- msg
		}()
		select {
		case msg := <-launch:
			dir, ok := strings.CutPrefix(string(msg), goMessage)
			if !ok {
				return 0 // released unused
			}
			if dir != "" {
				if err := os.Chdir(dir); err != nil {
					fmt.Fprintf(os.Stderr, "ukdev: build supervisor: %v\n", err)
					return 126
				}
			}
		case <-lifeline:
			return 0
		}
	}

	shellDone := make(chan unix.WaitStatus, 1)
	pid, err := startShell(command)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ukdev: build supervisor: start sh: %v\n", err)
		return 127
	}
	// One goroutine reaps for the supervisor's life: orphans reparented
	// here must not pile up as zombies.
	go reap(pid, shellDone)

	select {
	case ws := <-shellDone:
		return exitLike(ws)
	case <-lifeline:
		killTree()
		return 137
	}
}

// isPipe reports whether fd is an open pipe.
func isPipe(fd int) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO
}

// startShell starts `sh -c command` in the supervisor's process group, with
// its environment, directory and standard files.
func startShell(command string) (int, error) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		return 0, err
	}
	p, err := os.StartProcess(sh, []string{"sh", "-c", command}, &os.ProcAttr{
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
	})
	if err != nil {
		return 0, err
	}
	pid := p.Pid
	_ = p.Release() // reaped by reap, not by os.Process
	return pid, nil
}

// reap reaps every child of the supervisor as it exits (the shell, and
// orphans reparented here) and sends the shell's status on done.
func reap(shell int, done chan<- unix.WaitStatus) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			// ECHILD: nothing is left to reap. The shell's status was
			// sent already, or never can be.
			return
		case pid == shell:
			done <- ws
		}
	}
}

// exitLike returns the exit status of ws, or, for a shell killed by a
// signal, dies of that signal.
func exitLike(ws unix.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		dieOf(ws.Signal())
		return 128 + int(ws.Signal()) // only if the signal did not kill
	default:
		return 1
	}
}

// dieOf ends the supervisor with sig, as the shell ended. Go's runtime
// handles most signals itself (it would turn SIGSEGV from kill(2) into
// nothing, SIGQUIT into a goroutine dump), so the default action is
// restored with a raw rt_sigaction first. No core is dumped: the shell's
// own status says whether it dumped one.
func dieOf(sig unix.Signal) {
	runtime.LockOSThread()
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	// struct sigaction for the kernel: handler, flags, restorer, mask.
	var dfl [4]uint64 // SIG_DFL is 0
	_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	var set unix.Sigset_t
	set.Val[(sig-1)/64] |= 1 << ((uint(sig) - 1) % 64)
	_ = unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil)
	_ = unix.Tgkill(unix.Getpid(), unix.Gettid(), sig)
}

// killTree SIGKILLs every process of the supervisor's group and every
// child of the supervisor, round after round until none is left alive.
// The reap goroutine collects them.
func killTree() {
	self := os.Getpid()
	pgid := unix.Getpgrp()
	for range maxKillRounds {
		victims := buildProcs(self, pgid)
		if len(victims) == 0 {
			return
		}
		for _, pid := range victims {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// buildProcs lists the live processes, other than self, that are in group
// pgid or are children of self.
func buildProcs(self, pgid int) []int {
	all, err := procfs.PIDs()
	if err != nil {
		return nil
	}
	var pids []int
	for _, pid := range all {
		if pid == self {
			continue
		}
		p, err := procfs.Stat(pid)
		if err != nil || !p.Live() {
			continue
		}
		if p.PGID == pgid || p.PPID == self {
			pids = append(pids, pid)
		}
	}
	return pids
}
