package panel

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// EditorArgv is the command that opens file at line (and col, when
// positive) in editor, the value of $EDITOR ("vi" when empty). The editor
// may carry arguments ("emacs -nw"); it is split on spaces, not by a
// shell. VS Code and its relatives take -g file:line:col; Sublime Text,
// Helix and Zed take file:line:col; everything else (vi, vim, nvim, nano,
// emacs, micro, kak, ...) takes +line file.
func EditorArgv(editor, file string, line, col int) []string {
	argv := strings.Fields(editor)
	if len(argv) == 0 {
		argv = []string{"vi"}
	}
	pos := fmt.Sprintf("%s:%d", file, line)
	if col > 0 {
		pos += ":" + strconv.Itoa(col)
	}
	switch strings.TrimSuffix(filepath.Base(argv[0]), ".exe") {
	case "code", "code-insiders", "codium", "cursor":
		return append(argv, "-g", pos)
	case "subl", "sublime_text", "hx", "helix", "zed":
		return append(argv, pos)
	default:
		return append(argv, "+"+strconv.Itoa(line), file)
	}
}
