package devloop

import (
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/symbols"
)

// The guest's symbols and typed variables, as the views read them from
// VMInfo.Symbols. They are aliases of the types that define them, not
// copies: a view gets exactly what the ELF/DWARF reader returns, and
// imports only devloop.

// SymbolTable is the symbols and variable types of one ELF file.
type SymbolTable = symbols.Table

// SymbolKind says what a symbol names (a function, a variable...).
type SymbolKind = symbols.Kind

// SymObject is the SymbolKind of a variable.
const SymObject = symbols.Object

// SymFunc is the SymbolKind of a function.
const SymFunc = symbols.Func

// Variable is a data object with its type, flattened into Fields.
type Variable = symbols.Variable

// Field is one member of a Variable's type.
type Field = symbols.Field

// Enumerator is one named value of an enum Field.
type Enumerator = symbols.Enumerator

// Encoding says how a Field's bytes are read as a value.
type Encoding = symbols.Encoding

// The Encodings of a Field.
const (
	EncBytes    = symbols.EncBytes
	EncUnsigned = symbols.EncUnsigned
	EncSigned   = symbols.EncSigned
	EncFloat    = symbols.EncFloat
	EncBool     = symbols.EncBool
	EncPointer  = symbols.EncPointer
	EncCString  = symbols.EncCString
)

// Value is a variable's value decoded through its DWARF type
// (SymbolTable.Decode): a tree of members and elements.
type Value = symbols.Value

// ValueKind says which fields of a Value hold it.
type ValueKind = symbols.ValueKind

// The kinds of a Value.
const (
	KindBytes     = symbols.KindBytes
	KindInt       = symbols.KindInt
	KindUint      = symbols.KindUint
	KindFloat     = symbols.KindFloat
	KindBool      = symbols.KindBool
	KindEnum      = symbols.KindEnum
	KindPointer   = symbols.KindPointer
	KindString    = symbols.KindString
	KindStruct    = symbols.KindStruct
	KindUnion     = symbols.KindUnion
	KindArray     = symbols.KindArray
	KindSlice     = symbols.KindSlice
	KindInterface = symbols.KindInterface
)

// LineTable maps code addresses to source lines, from an ELF file's
// DWARF line programs.
type LineTable = symbols.LineTable

// LoadLineTable reads the line table of the ELF file at path
// (VMInfo.Symbols).
func LoadLineTable(path string) (*LineTable, error) { return symbols.LoadLineTable(path) }

// LoadSymbols reads the symbols and variable types of the ELF file at path
// (VMInfo.Symbols).
func LoadSymbols(path string) (*SymbolTable, error) { return symbols.Load(path) }

// The values of VMInfo.SymbolSpace: how the symbols' addresses reach
// guest memory.
const (
	// SpacePhysical: through the ELF's load segments, as physical
	// addresses (identity-mapped kernels).
	SpacePhysical = image.SpacePhysical
	// SpaceVirtual: through the vCPU's page tables.
	SpaceVirtual = image.SpaceVirtual
	// SpaceNone: not readable from the host.
	SpaceNone = image.SpaceNone
)
