// Package lock is trove's cross-process write lock: kernel byte-range
// locks (Linux open-file-description locks) on a file beside the store,
// taken before SQLite's BEGIN IMMEDIATE.
//
// Why not SQLite's own busy handler alone: it polls with sleeps, so a waiter
// notices a freed lock tens to hundreds of milliseconds late. A kernel lock
// wakes the next waiter as soon as the holder releases it, and the kernel
// releases it the instant the holder dies (no age-based stale detection).
//
// Why two locks: kernel locks are not fair. A process that releases and at
// once re-acquires (an agent's server writing flat out) can win every race
// and starve a batch job. So every acquisition first passes a turnstile
// (byte 1) and holds it while it waits for the main lock (byte 0): a
// releaser that wants the lock again must queue at the turnstile behind the
// process already waiting, which therefore gets the main lock first.
//
//	l, _ := lock.Open("/path/store.db.lock", "trove import")
//	g, err := l.Acquire(ctx, 30*time.Second)
//	if err != nil { ... } // *HeldError names the holder
//	defer g.Release()
//
// TryExclusive is the package's other lock: a non-blocking one per job
// name, in its own file, that elects one runner of a background job among
// the processes sharing a store.
package lock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/trove-memory/trove/internal/memory"
)

// Holder describes the process that holds (or last held) the lock.
type Holder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// HeldError is returned when the lock was not acquired within the bound.
type HeldError struct {
	Waited time.Duration
	Holder *Holder // nil when unknown
}

func (e *HeldError) Error() string {
	if e.Holder == nil {
		return fmt.Sprintf("write lock not acquired after %s: another process holds it; try again, or raise TROVE_LOCK_TIMEOUT", e.Waited.Round(time.Millisecond))
	}
	return fmt.Sprintf("write lock not acquired after %s: held by pid %d (%s) since %s; wait for it to finish, or stop it, or raise TROVE_LOCK_TIMEOUT",
		e.Waited.Round(time.Millisecond), e.Holder.PID, e.Holder.Command, e.Holder.Since.Format(time.RFC3339))
}

func (e *HeldError) Unwrap() error { return memory.ErrLocked }

// Lock is a cross-process exclusive lock. It is safe for concurrent use by
// goroutines of one process: they queue on an in-process semaphore so only
// one of them waits in the kernel at a time.
type Lock struct {
	path     string
	command  string
	f        *os.File
	fd       uintptr // f's descriptor, read once: f.Fd() races with Close
	readOnly error   // why f could not be opened for writing; nil when it was
	sem      chan struct{}
	stats    *Stats
}

// openFile opens the lock file; a variable so tests can make the open for
// writing fail as it does for a user without write permission (root
// ignores permission bits, and tests may run as root).
var openFile = os.OpenFile

// Open opens (creating if needed, mode 0600) the lock file. command names
// this process in HeldError messages shown to other processes. A symlink
// is refused: following one would let whoever planted it make trove
// create or overwrite the file it points to.
func Open(path, command string) (*Lock, error) {
	f, err := openFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if errors.Is(err, unix.ELOOP) {
		return nil, symlinkError(path, err)
	}
	var readOnly error
	if err != nil {
		// Without write access the write lock cannot be taken (a write
		// lock needs a descriptor open for writing), but the holder record
		// can still be read and the store read: keep a read-only handle
		// and say at Acquire what is missing.
		ro, rerr := openFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
		if errors.Is(rerr, unix.ELOOP) {
			return nil, symlinkError(path, rerr)
		}
		if rerr != nil {
			return nil, fmt.Errorf("open lock file %s: %w", path, err)
		}
		f, readOnly = ro, err
	}
	if command == "" {
		command = strings.Join(os.Args, " ")
	}
	return &Lock{path: path, command: command, f: f, fd: f.Fd(), readOnly: readOnly, sem: make(chan struct{}, 1), stats: newStats()}, nil
}

func symlinkError(path string, err error) error {
	return fmt.Errorf("%w: lock file %s is a symbolic link, which trove does not follow (it would create or overwrite the file it points to): remove the link (rm %s) and run the command again; trove creates the lock file itself: %v",
		memory.ErrInvalid, path, path, err)
}

// AccessError says that the lock file cannot be opened for writing, so
// this process cannot take the write lock, and what to do about it.
type AccessError struct {
	Path string
	Err  error // the error of the open for writing, or of the lock call
}

func (e *AccessError) Error() string {
	who := fmt.Sprintf("this user (uid %d)", os.Getuid())
	owner := ""
	if fi, err := os.Lstat(e.Path); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			owner = fmt.Sprintf(" (owner uid %d, mode %04o)", st.Uid, fi.Mode().Perm())
		}
	}
	return fmt.Sprintf("cannot take the write lock: lock file %s%s is not writable by %s: %v; trove opens it for writing to lock it: give this user write permission on it (chown or chmod u+w %s), or run trove as the user that owns the store",
		e.Path, owner, who, e.Err, e.Path)
}

func (e *AccessError) Unwrap() error { return e.Err }

// Guard is a held lock; Release frees it.
type Guard struct {
	l        *Lock
	acquired time.Time
	once     sync.Once
}

// Acquire takes the lock, waiting at most timeout (0 means 30 s) or until
// ctx is done. On timeout it returns a *HeldError naming the holder.
func (l *Lock) Acquire(ctx context.Context, timeout time.Duration) (*Guard, error) {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	start := time.Now()
	timer := time.NewTimer(timeout)
	defer timer.Stop()

	if l.readOnly != nil {
		return nil, &AccessError{Path: l.path, Err: l.readOnly}
	}
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		return nil, l.heldError(time.Since(start))
	}

	// Fast path: turnstile and main lock both free.
	if err := l.try(turnstile); err == nil {
		if err := l.try(mainLock); err == nil {
			l.unlock(turnstile)
			return l.granted(start), nil
		}
		l.unlock(turnstile)
	} else if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) {
		<-l.sem
		return nil, l.lockError(err)
	}

	// Slow path: block in the kernel on a helper goroutine so we can give up
	// at the bound. If we give up, the goroutine keeps waiting and releases
	// the lock (and the semaphore) as soon as it gets it.
	got := make(chan error) // unbuffered: a result is either taken or handed back
	abandoned := make(chan struct{})
	go func() {
		err := l.wait(turnstile)
		if err == nil {
			err = l.wait(mainLock)
			l.unlock(turnstile)
		}
		select {
		case got <- err:
		case <-abandoned:
			if err == nil {
				l.unlock(mainLock)
			}
			<-l.sem
		}
	}()
	select {
	case err := <-got:
		if err != nil {
			<-l.sem
			return nil, l.lockError(err)
		}
		return l.granted(start), nil
	case <-ctx.Done():
		close(abandoned)
		return nil, ctx.Err()
	case <-timer.C:
		close(abandoned)
		return nil, l.heldError(time.Since(start))
	}
}

// lockError explains a failed lock call. EBADF means the descriptor is not
// open for writing, which a write lock needs.
func (l *Lock) lockError(err error) error {
	if errors.Is(err, unix.EBADF) {
		return &AccessError{Path: l.path, Err: err}
	}
	return fmt.Errorf("lock %s: %w", l.path, err)
}

// The two locked bytes of the lock file.
const (
	mainLock  = 0
	turnstile = 1
)

func lockRange(typ int16, b int64) *unix.Flock_t {
	return &unix.Flock_t{Type: typ, Whence: 0, Start: b, Len: 1}
}

// try takes byte b without waiting (EAGAIN/EACCES when held elsewhere).
func (l *Lock) try(b int64) error {
	return unix.FcntlFlock(l.fd, unix.F_OFD_SETLK, lockRange(unix.F_WRLCK, b))
}

// wait takes byte b, blocking in the kernel.
func (l *Lock) wait(b int64) error {
	for {
		err := unix.FcntlFlock(l.fd, unix.F_OFD_SETLKW, lockRange(unix.F_WRLCK, b))
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func (l *Lock) unlock(b int64) {
	_ = unix.FcntlFlock(l.fd, unix.F_OFD_SETLK, lockRange(unix.F_UNLCK, b))
}

func (l *Lock) granted(start time.Time) *Guard {
	now := time.Now()
	l.stats.addWait(now.Sub(start))
	l.writeRecord(now)
	return &Guard{l: l, acquired: now}
}

// Release frees the lock. It is safe to call more than once.
func (g *Guard) Release() {
	g.once.Do(func() {
		g.l.stats.addHold(time.Since(g.acquired))
		g.l.unlock(mainLock)
		<-g.l.sem
	})
}

// Acquired is when the lock was granted.
func (g *Guard) Acquired() time.Time { return g.acquired }

func (l *Lock) writeRecord(now time.Time) {
	b, _ := json.Marshal(Holder{PID: os.Getpid(), Command: l.command, Since: now})
	// Pad with spaces so a shorter record overwrites a longer one without
	// a truncate syscall; readers trim.
	if len(b) < 256 {
		b = append(b, []byte(strings.Repeat(" ", 256-len(b)))...)
	}
	_, _ = l.f.WriteAt(b, 0)
}

// Holder returns the current holder, or ok=false when the lock is free or
// the holder is unknown.
func (l *Lock) Holder() (Holder, bool) {
	// Ask the kernel who holds the main byte (F_OFD_GETLK reports a
	// conflicting lock, including one held by our own other handle).
	f, err := os.Open(l.path)
	if err != nil {
		return Holder{}, false
	}
	defer f.Close()
	probe := lockRange(unix.F_RDLCK, mainLock)
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, probe); err != nil || probe.Type == unix.F_UNLCK {
		return Holder{}, false
	}
	return readRecord(f)
}

func readRecord(f *os.File) (Holder, bool) {
	buf := make([]byte, 1024)
	n, _ := f.ReadAt(buf, 0)
	var h Holder
	if err := json.Unmarshal([]byte(strings.TrimSpace(string(buf[:n]))), &h); err != nil || h.PID == 0 {
		return Holder{}, false
	}
	return h, true
}

func (l *Lock) heldError(waited time.Duration) error {
	if h, ok := l.Holder(); ok {
		return &HeldError{Waited: waited, Holder: &h}
	}
	return &HeldError{Waited: waited}
}

// Stats returns wait and hold figures of this process's acquisitions.
func (l *Lock) Stats() Snapshot { return l.stats.snapshot() }

// Close closes the lock file (releasing the lock if held). If an abandoned
// wait is still blocked in the kernel, the file is closed when it ends, so
// its descriptor is never closed under it.
func (l *Lock) Close() error {
	select {
	case l.sem <- struct{}{}:
		return l.f.Close()
	default:
		go func() {
			l.sem <- struct{}{}
			l.f.Close()
		}()
		return nil
	}
}
