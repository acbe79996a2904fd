package project

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// elfFile returns a minimal little-endian ELF header of the given e_type.
func elfFile(etype uint16) []byte {
	b := make([]byte, 64)
	copy(b, "\x7fELF\x02\x01\x01")
	binary.LittleEndian.PutUint16(b[16:], etype)
	return b
}

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDetect(t *testing.T) {
	const etExec, etRel = 2, 1
	tests := []struct {
		name  string
		files map[string][]byte
		want  Detection
	}{
		{"makefile naming an elf",
			map[string][]byte{"Makefile": []byte("KERNEL = build/hello.elf\n$(BUILD)/x.elf: main.o\n\tld -o $@ $^\nall: ./build/hello.elf\n")},
			Detection{Flavor: "elf", BuildCommand: "make", Image: "build/hello.elf", Reason: "Makefile builds build/hello.elf"}},
		{"makefile naming an existing ELF without extension",
			map[string][]byte{"makefile": []byte("all: out/kernel\nout/kernel: k.o\n"), "out/kernel": elfFile(etExec), "k.o": elfFile(etRel)},
			Detection{Flavor: "elf", BuildCommand: "make", Image: "out/kernel", Reason: "makefile builds out/kernel"}},
		{"makefile and an ELF it does not name",
			map[string][]byte{"Makefile": []byte("all:\n\tcc -o $(OUT) x.c\n"), "deep/er/kern": elfFile(etExec)},
			Detection{Flavor: "elf", BuildCommand: "make", Image: "deep/er/kern", Reason: "Makefile found; deep/er/kern is an ELF executable"}},
		{"makefile only",
			map[string][]byte{"Makefile": []byte("all:\n\t$(CC) -o $(OUT)/k main.c\n"), "main.o": elfFile(etRel)},
			Detection{Flavor: "elf", BuildCommand: "make", Reason: "Makefile found; set kernel.image to the kernel it builds"}},
		{"ELF only, .elf preferred over shallower",
			map[string][]byte{"a": elfFile(etExec), "b/c.elf": elfFile(etExec), ".git/x.elf": elfFile(etExec)},
			Detection{Flavor: "elf", Image: "b/c.elf", Reason: "found ELF executable b/c.elf; set build.command"}},
		{"nothing",
			map[string][]byte{"README": []byte("hi"), "short": []byte("\x7fEL")},
			Detection{Flavor: "elf", Reason: "no Makefile or ELF kernel found; set build.command and kernel.image"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			got := Detect(dir)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Detect = %+v\nwant     %+v", got, tt.want)
			}
		})
	}
	t.Run("missing dir", func(t *testing.T) {
		got := Detect(filepath.Join(t.TempDir(), "nope"))
		if got.Flavor != "elf" || got.Image != "" || got.BuildCommand != "" {
			t.Fatalf("Detect(missing) = %+v", got)
		}
	})
}

func TestInitFile(t *testing.T) {
	defaults, err := Parse(filepath.Join(root, FileName), []byte("kernel.image = \"build/kernel.elf\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		d           Detection
		wantCommand string
		wantImage   string
		wantIgnore  []string // the image's directory: the build writes there
	}{
		{"detected", Detection{Flavor: "elf", BuildCommand: "make", Image: "build/hello.elf", Reason: "Makefile builds build/hello.elf"}, "make", root + "/build/hello.elf", []string{"build/"}},
		{"image at the root", Detection{Flavor: "elf", BuildCommand: "make", Image: "kernel.elf"}, "make", root + "/kernel.elf", nil},
		{"nothing detected", Detection{}, "", root + "/" + placeholderImage, nil},
		{"odd characters", Detection{BuildCommand: "make \"A=\\1\"", Image: "b/x y\".elf", Reason: "line\nbreak"}, "make \"A=\\1\"", root + "/b/x y\".elf", []string{"b/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := InitFile(tt.d)
			c, err := Parse(filepath.Join(root, FileName), data)
			if err != nil {
				t.Fatalf("InitFile output does not parse: %v\n%s", err, data)
			}
			if c.Build.Command != tt.wantCommand || c.Kernel.Image != tt.wantImage {
				t.Errorf("command %q image %q, want %q %q", c.Build.Command, c.Kernel.Image, tt.wantCommand, tt.wantImage)
			}
			if !reflect.DeepEqual(c.Watch.Ignore, tt.wantIgnore) && len(c.Watch.Ignore)+len(tt.wantIgnore) > 0 {
				t.Errorf("watch.ignore %q, want %q", c.Watch.Ignore, tt.wantIgnore)
			}
			// Apart from the detected values, the file holds only defaults.
			c.Build.Command, c.Kernel, c.Watch.Ignore = defaults.Build.Command, defaults.Kernel, defaults.Watch.Ignore
			if !reflect.DeepEqual(c, defaults) {
				t.Errorf("InitFile sets more than the detection:\n%+v\nwant %+v", c, defaults)
			}
			for _, section := range []string{"[build]", "[watch]", "[kernel]", "[vm]", "[logs]"} {
				if !strings.Contains(string(data), section+"\n") {
					t.Errorf("no %s section", section)
				}
			}
			if strings.Count(string(data), "# Detected:") > 1 || strings.Contains(string(data), "line\nbreak") {
				t.Errorf("reason not kept on one line:\n%s", data)
			}
		})
	}
	t.Run("commented defaults parse as the defaults", func(t *testing.T) {
		var b strings.Builder
		for _, line := range strings.Split(string(InitFile(Detection{})), "\n") {
			if rest, ok := strings.CutPrefix(line, "# "); ok && strings.Contains(rest, " = ") &&
				!strings.HasPrefix(rest, "name") && !strings.HasPrefix(rest, "env") &&
				!strings.HasPrefix(rest, "ports") && !strings.HasPrefix(rest, "ignore") && !strings.HasPrefix(rest, "command") {
				line = rest
			}
			b.WriteString(line + "\n")
		}
		c, err := Parse(filepath.Join(root, FileName), []byte(b.String()))
		if err != nil {
			t.Fatalf("uncommented file does not parse: %v\n%s", err, b.String())
		}
		want := *defaults
		want.Kernel.Symbols, want.Kernel.Initrd = c.Kernel.Symbols, c.Kernel.Initrd
		if c.Kernel.Initrd != "" || c.Kernel.Symbols != c.Kernel.Image {
			t.Errorf("initrd %q symbols %q", c.Kernel.Initrd, c.Kernel.Symbols)
		}
		want.VM.Args = c.VM.Args
		want.VM.MemorySet = true // the uncommented default is given explicitly
		if !reflect.DeepEqual(c, &want) {
			t.Errorf("commented defaults differ from the defaults:\n%+v\nwant %+v", c, &want)
		}
	})
}
