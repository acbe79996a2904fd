package image

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Program is an x86-64 ELF program opened by OpenProgram: what the nanos
// and linux flavors boot on a kernel they bring themselves.
type Program struct {
	*elf.File
	file *os.File
}

// Close closes the program's file.
func (p *Program) Close() error {
	_ = p.File.Close()
	return p.file.Close()
}

// OpenProgram opens the x86-64 ELF program at p, or says why it is not
// one; runs completes the reason ("Nanos runs", "the linux flavor runs").
// Anything but a regular file is refused (ErrNotRegular) without
// blocking; a missing file is ErrMissingArtifact, as Store.Copy reports
// it.
func OpenProgram(p, runs string) (*Program, error) {
	file, _, err := OpenRegular(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("kernel: %s: %w", p, ErrMissingArtifact)
	case errors.Is(err, ErrNotRegular):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("kernel: open program %s: %w", p, err)
	}
	f, err := elf.NewFile(file)
	if err != nil {
		file.Close()
		return nil, &FormatError{Path: p, Err: ErrNotBootable,
			Reason: fmt.Sprintf("not an ELF program (%v): %s Linux x86-64 ELF programs", err, runs)}
	}
	switch {
	case f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64:
		file.Close()
		return nil, &FormatError{Path: p, Err: ErrNotBootable,
			Reason: fmt.Sprintf("a %v %v ELF: %s x86-64 programs", f.Class, f.Machine, runs)}
	case f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN:
		file.Close()
		return nil, &FormatError{Path: p, Err: ErrNotBootable, Reason: fmt.Sprintf("an ELF %v, not a program", f.Type)}
	}
	return &Program{File: f, file: file}, nil
}

// ELFType returns the type of the ELF file at path: elf.ET_EXEC for a
// program that runs at its link addresses, elf.ET_DYN for a
// position-independent one. A file that is not an ELF is an error
// wrapping ErrNotBootable; anything but a regular file is refused
// (ErrNotRegular) without blocking.
func ELFType(path string) (elf.Type, error) {
	file, _, err := OpenRegular(path)
	if err != nil {
		return 0, fmt.Errorf("kernel: %s: %w", path, err)
	}
	defer file.Close()
	f, err := elf.NewFile(file)
	if err != nil {
		return 0, &FormatError{Path: path, Err: ErrNotBootable, Reason: fmt.Sprintf("not an ELF file (%v)", err)}
	}
	return f.Type, nil
}
