package elf_test

import (
	"encoding/binary"
	"path/filepath"
	"reflect"
	"testing"

	_ "github.com/ukdev/ukdev/flavor/all"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
)

// elfFile returns a minimal little-endian ELF header of the given e_type.
func elfFile(etype uint16) []byte {
	b := make([]byte, 64)
	copy(b, "\x7fELF\x02\x01\x01")
	binary.LittleEndian.PutUint16(b[16:], etype)
	return b
}

func TestDetect(t *testing.T) {
	const etExec, etRel = 2, 1
	tests := []struct {
		name  string
		files map[string][]byte
		want  project.Detection
	}{
		{"makefile naming an elf",
			map[string][]byte{"Makefile": []byte("KERNEL = build/hello.elf\n$(BUILD)/x.elf: main.o\n\tld -o $@ $^\nall: ./build/hello.elf\n")},
			project.Detection{Flavor: "elf", Source: "Makefile", Complete: true, BuildCommand: "make", Image: "build/hello.elf", Reason: "Makefile builds build/hello.elf"}},
		{"makefile naming an existing ELF without extension",
			map[string][]byte{"makefile": []byte("all: out/kernel\nout/kernel: k.o\n"), "out/kernel": elfFile(etExec), "k.o": elfFile(etRel)},
			project.Detection{Flavor: "elf", Source: "makefile", Complete: true, BuildCommand: "make", Image: "out/kernel", Reason: "makefile builds out/kernel"}},
		{"makefile and an ELF it does not name",
			map[string][]byte{"Makefile": []byte("all:\n\tcc -o $(OUT) x.c\n"), "deep/er/kern": elfFile(etExec)},
			project.Detection{Flavor: "elf", Source: "Makefile", Complete: true, BuildCommand: "make", Image: "deep/er/kern", Reason: "Makefile found; deep/er/kern is an ELF executable"}},
		{"makefile only",
			map[string][]byte{"Makefile": []byte("all:\n\t$(CC) -o $(OUT)/k main.c\n"), "main.o": elfFile(etRel)},
			project.Detection{Flavor: "elf", Source: "Makefile", BuildCommand: "make", Reason: "Makefile found; set kernel.image to the kernel it builds"}},
		{"ELF only, .elf preferred over shallower",
			map[string][]byte{"a": elfFile(etExec), "b/c.elf": elfFile(etExec), ".git/x.elf": elfFile(etExec)},
			project.Detection{Flavor: "elf", Image: "b/c.elf", Reason: "found ELF executable b/c.elf; set build.command"}},
		{"nothing",
			map[string][]byte{"README": []byte("hi"), "short": []byte("\x7fEL")},
			project.Detection{Flavor: "elf", Reason: "no Makefile or ELF kernel found; set build.command and kernel.image"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			projecttest.WriteFiles(t, dir, tt.files)
			got := project.Detect(dir)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Detect = %+v\nwant     %+v", got, tt.want)
			}
		})
	}
	t.Run("missing dir", func(t *testing.T) {
		got := project.Detect(filepath.Join(t.TempDir(), "nope"))
		if got.Flavor != "elf" || got.Image != "" || got.BuildCommand != "" {
			t.Fatalf("project.Detect(missing) = %+v", got)
		}
	})
}
