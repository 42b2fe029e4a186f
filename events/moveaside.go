package events

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// MoveAside renames the database file at path (the real file, through
// symbolic links) to the same name with suffix appended, and returns its
// new name; its empty -wal and -shm files are removed. Nothing of the log
// is deleted: it stays readable where it went. The database must have been
// closed.
func MoveAside(path, suffix string) (string, error) {
	if suffix == "" {
		return "", errors.New("move aside: empty suffix")
	}
	real, err := realPath(path)
	if err != nil {
		return "", fmt.Errorf("move aside %s: %w", path, err)
	}
	to := real + suffix
	if _, err := os.Stat(to); err == nil {
		return "", fmt.Errorf("move aside %s: %s already exists", path, to)
	}
	// Closed cleanly, SQLite has folded the write-ahead log into the file
	// and removed it: one left with content belongs with the file, and a
	// move of the two is not atomic, so refuse rather than risk either.
	if st, err := os.Stat(real + "-wal"); err == nil && st.Size() > 0 {
		return "", fmt.Errorf("move aside %s: it has a write-ahead log (%s-wal): open and close it once first", path, real)
	}
	if err := os.Rename(real, to); err != nil {
		return "", fmt.Errorf("move aside %s: %w", path, err)
	}
	for _, ext := range []string{"-wal", "-shm"} {
		if err := os.Remove(real + ext); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("move aside %s: %w", path, err)
		}
	}
	return to, nil
}
