package nanos

import (
	"bytes"
	"testing"
)

// `ukdev kernel list` lists the versions in ops' kernel cache, or says on
// stderr that there are none.
func TestKernelList(t *testing.T) {
	tests := []struct {
		name             string
		versions         []string
		wantOut, wantErr string
	}{
		{name: "empty cache", wantErr: "no Nanos kernel in $HOME (ukdev kernel fetch, or ops update)\n"},
		{name: "two releases", versions: []string{"0.1.50", "0.1.52"}, wantOut: "0.1.50\n0.1.52\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := fakeOpsHome(t, "", tt.versions...)
			cmds := Flavor{}.Commands()
			if len(cmds) != 1 || cmds[0].Name() != "kernel" {
				t.Fatalf("Commands() = %v, want one kernel command", cmds)
			}
			var out, errOut bytes.Buffer
			cmds[0].SetOut(&out)
			cmds[0].SetErr(&errOut)
			cmds[0].SetArgs([]string{"list"})
			if err := cmds[0].Execute(); err != nil {
				t.Fatal(err)
			}
			wantErr := ""
			if tt.wantErr != "" {
				wantErr = string(bytes.ReplaceAll([]byte(tt.wantErr), []byte("$HOME"), []byte(home)))
			}
			if out.String() != tt.wantOut || errOut.String() != wantErr {
				t.Errorf("stdout %q, stderr %q; want %q, %q", out.String(), errOut.String(), tt.wantOut, wantErr)
			}
		})
	}
}

// The commands' flags and arguments are those `ukdev kernel` always had.
func TestKernelCommandShape(t *testing.T) {
	k := kernelCommand()
	fetch, _, err := k.Find([]string{"fetch"})
	if err != nil || fetch.Name() != "fetch" {
		t.Fatalf("no fetch subcommand: %v", err)
	}
	if f := fetch.Flags().Lookup("from"); f == nil || f.DefValue == "" {
		t.Error("fetch has no --from with a default")
	}
	if err := fetch.Args(fetch, []string{"0.1.52", "0.1.53"}); err == nil {
		t.Error("fetch takes two versions")
	}
}
