package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBareArgv(t *testing.T) {
	src := t.TempDir()
	kernel := filepath.Join(src, "kernel.elf")
	disk := filepath.Join(src, "disk.img")
	for _, f := range []string{kernel, disk} {
		if err := os.WriteFile(f, []byte(filepath.Base(f)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		argv []string
		want []string // with @K@ and @D@ for the copies of kernel and disk
	}{
		{
			name: "-qmp and -S left out, the kernel copied",
			argv: []string{"qemu", "-S", "-kernel", kernel, "-qmp", "unix:/run/q.sock,server=on,wait=off", "-m", "128"},
			want: []string{"qemu", "-kernel", "@K@", "-m", "128"},
		},
		{
			name: "a control monitor on a socket chardev left out, the stdio chardev kept",
			argv: []string{"qemu", "-chardev", "stdio,id=con0,signal=off", "-chardev", "socket,id=qmp,fd=3,server=on,wait=off",
				"-mon", "chardev=qmp,mode=control", "-drive", "file=" + disk + ",format=raw,if=virtio"},
			want: []string{"qemu", "-chardev", "stdio,id=con0,signal=off", "-drive", "file=@D@,format=raw,if=virtio"},
		},
		{
			name: "a file named twice copied once; missing files and directories untouched",
			argv: []string{"qemu", "-kernel", kernel, "-initrd", "/no/such/file", "-L", src, "-append", "x", "-device", "loader,file=" + kernel},
			want: []string{"qemu", "-kernel", "@K@", "-initrd", "/no/such/file", "-L", src, "-append", "x", "-device", "loader,file=@K@"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			got, err := bareArgv(tc.argv, dir)
			if err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			copies := map[string]string{}
			for _, e := range entries {
				data, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				copies[string(data)] = filepath.Join(dir, e.Name())
			}
			want := slices.Clone(tc.want)
			for i := range want {
				want[i] = strings.NewReplacer("@K@", copies["kernel.elf"], "@D@", copies["disk.img"]).Replace(want[i])
			}
			if !slices.Equal(got, want) {
				t.Errorf("bareArgv(%q)\n got %q\nwant %q", tc.argv, got, want)
			}
		})
	}
	if _, err := bareArgv(nil, t.TempDir()); err == nil {
		t.Error("bareArgv(nil) gave no error")
	}
}
