package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// storeFiles are the files of a store at path: the database, SQLite's
// -wal and -shm, and trove's lock file. Each holds memories or reveals
// who writes them, so none should be open to group or others.
func storeFiles(path string) []string {
	return []string{path, path + "-wal", path + "-shm", path + ".lock"}
}

// loose is a file or directory whose mode gives group or others access.
type loose struct {
	path string
	mode os.FileMode
	dir  bool
}

// findLoose lists the store's files that group or others may read or
// write, and its directory when group or others may write it (they could
// then replace the files; one they may only list is left alone, since a
// store may live in a shared directory on purpose).
func findLoose(path string) ([]loose, error) {
	var out []loose
	for _, p := range storeFiles(path) {
		fi, err := os.Lstat(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m := fi.Mode().Perm(); m&0o077 != 0 {
			out = append(out, loose{path: p, mode: m})
		}
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if m := fi.Mode().Perm(); m&0o022 != 0 {
		out = append(out, loose{path: dir, mode: fi.Mode() & (os.ModePerm | os.ModeSticky), dir: true})
	}
	return out, nil
}

func checkPermissions(path string) Check {
	c := Check{Name: CheckPermissions}
	found, err := findLoose(path)
	if err != nil {
		c.Status, c.Detail = Warn, fmt.Sprintf("could not read the permissions of the store's files: %v", err)
		return c
	}
	modes := map[string]string{}
	var details, fixes []string
	files := false
	for _, l := range found {
		modes[l.path] = fmt.Sprintf("%04o", l.mode.Perm())
		if l.dir {
			details = append(details, fmt.Sprintf("the store's directory %s (mode %04o) is writable by group or others, who could replace the store's files", l.path, l.mode.Perm()))
			fixes = append(fixes, fmt.Sprintf("chmod 700 %s, or move the store (--db, TROVE_DB) into a directory only you can write", l.path))
			continue
		}
		files = true
		details = append(details, fmt.Sprintf("%s has mode %04o: group or others may read or write it", l.path, l.mode.Perm()))
		fixes = append(fixes, fmt.Sprintf("chmod 600 %s", l.path))
	}
	c.Figures = map[string]any{"loose": modes}
	if len(found) == 0 {
		c.Status, c.Detail = OK, "the store's files are readable and writable by their owner only"
		return c
	}
	c.Status, c.repairable = Warn, files
	c.Detail = strings.Join(details, "; ")
	c.Fix = strings.Join(fixes, "; ")
	if files {
		c.Fix += " (trove doctor --repair tightens the files, not the directory)"
	}
	return c
}

// repairPermissions takes group and others' access away from the store's
// files. The directory is left as it is: it may be shared on purpose (a
// store in /tmp), and changing it could lock others out of their files.
func repairPermissions(path string) Repair {
	r := Repair{Name: RepairPermissions}
	found, err := findLoose(path)
	if err != nil {
		r.Status, r.Detail = "failed", fmt.Sprintf("read the permissions of the store's files: %v", err)
		return r
	}
	var done, failed []string
	for _, l := range found {
		if l.dir {
			continue
		}
		if err := os.Chmod(l.path, l.mode.Perm()&0o700); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", l.path, err))
			continue
		}
		done = append(done, fmt.Sprintf("%s %04o -> %04o", l.path, l.mode.Perm(), l.mode.Perm()&0o700))
	}
	switch {
	case len(failed) > 0:
		r.Status, r.Detail = "failed", "could not tighten "+strings.Join(failed, "; ")+": run chmod 600 on them as their owner"
	case len(done) == 0:
		r.Status, r.Detail = "skipped", "the store's files are private already: nothing to tighten"
	default:
		r.Status, r.Detail = "done", "took group and others' access away: "+strings.Join(done, ", ")
	}
	return r
}
