package lock

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Held is a job lock taken by TryExclusive; Release frees it. Keep it
// until then: the lock lives on its open file, which the runtime closes
// (freeing the lock) once nothing refers to it.
type Held struct {
	f    *os.File
	b    int64
	once sync.Once
}

// exclusiveRange is how many bytes of the job lock file names map onto.
// Locks need no file content, so the range costs nothing; it makes a
// collision of two names' bytes a one-in-a-billion event.
const exclusiveRange = 1 << 30

// exclusiveByte is the byte of the lock file that stands for the job name.
func exclusiveByte(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64() % exclusiveRange)
}

// TryExclusive takes, without waiting, the lock for the job name in the
// lock file at path (created with mode 0600; a symlink is refused): one
// byte per name, so different jobs do not contend. It returns (nil, nil)
// when another process, or another holder in this process, has it. The
// kernel frees the lock the instant its holder dies: there is no stale
// lock to judge by age.
//
// Each call opens the file anew: open-file-description locks belong to the
// open file, so two holders in one process exclude each other exactly as
// two processes do.
//
//	h, err := lock.TryExclusive(db+".jobs.lock", "capture")
//	if err != nil || h == nil { return err } // nil: another runner has it
//	defer h.Release()
func TryExclusive(path, name string) (*Held, error) {
	f, err := openFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if errors.Is(err, unix.ELOOP) {
		return nil, symlinkError(path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open job lock file %s: %w: trove creates it beside the store and needs write access to it, as to the store", path, err)
	}
	b := exclusiveByte(name)
	err = unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, lockRange(unix.F_WRLCK, b))
	if err == nil {
		return &Held{f: f, b: b}, nil
	}
	f.Close()
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return nil, nil
	}
	return nil, fmt.Errorf("lock job %q in %s: %w", name, path, err)
}

// Release frees the lock. It is safe to call more than once.
func (h *Held) Release() {
	h.once.Do(func() {
		// Unlock first: a child forked meanwhile may still share the open
		// file until it execs, and closing ours alone would not free it.
		_ = unix.FcntlFlock(h.f.Fd(), unix.F_OFD_SETLK, lockRange(unix.F_UNLCK, h.b))
		h.f.Close()
	})
}
