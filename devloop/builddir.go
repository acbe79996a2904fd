package devloop

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ukdev/ukdev/builder"
)

// buildDirMessage words a build that did not start because its directory
// is missing (err holds a *builder.DirError), and reports false for any
// other error. The project directory gone (deleted or moved away) and a
// wrong build.dir get their own words: the first is picked up again by the
// watcher when it comes back, the second needs the config fixed.
func buildDirMessage(root, configPath string, err error) (string, bool) {
	var de *builder.DirError
	if !errors.As(err, &de) {
		return "", false
	}
	if _, serr := os.Stat(root); errors.Is(serr, fs.ErrNotExist) {
		return fmt.Sprintf("the project directory %s is gone (deleted or moved away); ukdev builds again when it is back", root), true
	}
	if errors.Is(de.Err, fs.ErrNotExist) {
		return fmt.Sprintf("build.dir %s does not exist (set in %s)", de.Dir, configPath), true
	}
	if errors.Is(de.Err, builder.ErrNotDir) {
		return fmt.Sprintf("build.dir %s is not a directory (set in %s)", de.Dir, configPath), true
	}
	return fmt.Sprintf("build.dir %s: %v (set in %s)", de.Dir, de.Err, configPath), true
}
