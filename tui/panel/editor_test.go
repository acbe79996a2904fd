package panel

import (
	"slices"
	"testing"
)

func TestEditorArgv(t *testing.T) {
	tests := []struct {
		editor    string
		line, col int
		want      []string
	}{
		{"", 12, 5, []string{"vi", "+12", "src/main.c"}},
		{"vim", 12, 5, []string{"vim", "+12", "src/main.c"}},
		{"/usr/bin/nvim", 12, 0, []string{"/usr/bin/nvim", "+12", "src/main.c"}},
		{"nano", 3, 1, []string{"nano", "+3", "src/main.c"}},
		{"emacs -nw", 3, 1, []string{"emacs", "-nw", "+3", "src/main.c"}},
		{"code", 12, 5, []string{"code", "-g", "src/main.c:12:5"}},
		{"code --wait", 12, 0, []string{"code", "--wait", "-g", "src/main.c:12"}},
		{"codium", 1, 2, []string{"codium", "-g", "src/main.c:1:2"}},
		{"hx", 7, 3, []string{"hx", "src/main.c:7:3"}},
		{"subl", 7, 0, []string{"subl", "src/main.c:7"}},
	}
	for _, tt := range tests {
		t.Run(tt.editor, func(t *testing.T) {
			if got := EditorArgv(tt.editor, "src/main.c", tt.line, tt.col); !slices.Equal(got, tt.want) {
				t.Errorf("EditorArgv(%q) = %q, want %q", tt.editor, got, tt.want)
			}
		})
	}
}
