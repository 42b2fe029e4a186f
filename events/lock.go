package events

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrLocked says another process holds the database for writing.
var ErrLocked = errors.New("the database is held for writing by another orderflow process")

// Lock is a database's lock taken before Open, for a process that prepares
// the file before it opens it (a copy received with --seed-from, a copy
// discarded): it hands the lock to Open (Options.Lock), so no other
// process takes the database in between.
type Lock struct{ f *os.File }

// TakeLock takes the lock Open takes (see lockFile): ErrLocked when
// another process holds the database.
func TakeLock(path string) (*Lock, error) {
	f, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	return &Lock{f: f}, nil
}

// Release lets go of a lock that was not handed to Open.
func (l *Lock) Release() error { return l.f.Close() }

// lockFile takes an exclusive advisory lock on the database for as long as
// it is open. There is one writer per database, and only one process may be
// it: a second server or an offline replay on the same file would break the
// order in which positions are allocated. The kernel drops the lock when the
// process dies, even by SIGKILL, so a crash never leaves a stale lock behind.
//
// The lock is the file ".lock" beside the database's real path, with every
// symbolic link resolved, so the same database reached through a symlink
// (of the file or of a directory above it) is locked by the same file: it is
// where SQLite keeps the database's -wal and -shm files too. The database
// file itself is not locked: SQLite holds POSIX locks on it, and closing any
// other descriptor of the file in this process would drop them. (A hard link
// is a second name of the file that this cannot see; do not make one.)
func lockFile(path string) (*os.File, error) {
	real, err := realPath(path)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", path, err)
	}
	name := real + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(name)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if pid := strings.TrimSpace(string(holder)); pid != "" {
				return nil, fmt.Errorf("%w (pid %s)", ErrLocked, pid)
			}
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// realPath is the absolute path of the file path names, through symbolic
// links of the file and of its directories, also when the file does not
// exist yet (a symlink to where the database is to be created).
func realPath(path string) (string, error) {
	p, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	for range 40 { // as many links as the kernel follows
		dir, err := filepath.EvalSymlinks(filepath.Dir(p))
		if err != nil {
			return "", err
		}
		p = filepath.Join(dir, filepath.Base(p))
		target, err := os.Readlink(p)
		if err != nil {
			return p, nil // not a link: a file, or nothing yet
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		}
		p = target
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", path)
}
