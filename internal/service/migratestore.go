package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// MigrateStoreOptions configure MigrateStore.
type MigrateStoreOptions struct {
	// From and To name the stores in messages and the result (passwords
	// already redacted by the caller).
	From, To string
	// Resume continues a copy that stopped: the target holds a prefix of
	// each table in key order, and the copy goes on after its last row.
	// Without it the target must be empty.
	Resume bool
	// Batch is how many rows one write copies (default 500, at most 10000).
	Batch int
	// Progress, when set, hears each batch: the table, rows of it in the
	// target so far and in the source.
	Progress func(table string, done, total int64)
}

// MigrateStoreTable is what the copy did with one table.
type MigrateStoreTable struct {
	Table    string `json:"table"`
	Source   int64  `json:"source_rows"`
	Copied   int64  `json:"copied"`  // by this run
	Skipped  int64  `json:"skipped"` // already in the target (--resume)
	Target   int64  `json:"target_rows"`
	Verified int64  `json:"verified"` // rows compared equal, field by field
}

// MigrateStoreResult is the summary of a store copy (trove migrate-store --json).
type MigrateStoreResult struct {
	From       string              `json:"from"`
	To         string              `json:"to"`
	Resumed    bool                `json:"resumed"`
	Tables     []MigrateStoreTable `json:"tables"`
	Rows       int64               `json:"rows"`     // copied by this run, every table
	Verified   bool                `json:"verified"` // every row and the store-wide values compared equal
	CopyMS     int64               `json:"copy_ms"`
	VerifyMS   int64               `json:"verify_ms"`
	DurationMS int64               `json:"duration_ms"`
	RowsPerSec float64             `json:"rows_per_sec"` // copied rows per second of copying
}

// TargetNotEmptyError is a copy refused because the target holds rows.
type TargetNotEmptyError struct {
	To    string
	Table string
	Rows  int64
}

func (e *TargetNotEmptyError) Error() string {
	return fmt.Sprintf("the target store %s is not empty (%s: %d rows): trove migrate-store copies into an empty store; "+
		"point --to at a new database or file, or give --resume to continue a copy into it that stopped", e.To, e.Table, e.Rows)
}

func (e *TargetNotEmptyError) Unwrap() error { return memory.ErrExists }

// VerifyError is a copy whose target differs from its source.
type VerifyError struct {
	Differences []string // the first few, each naming table, key and column
	Count       int
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("the copy differs from its source in %d places, first: %s; was the source written during the copy? "+
		"stop its writers and copy again into a new, empty target", e.Count, strings.Join(e.Differences, "; "))
}

// StoreOpener opens the store db names (a SQLite file or a postgres://
// URL) by itself, without providers or the embedding check; create says
// it may be made (else *NoStoreError when there is none).
type StoreOpener func(ctx context.Context, db string, create bool) (store.Store, error)

// OpenStoreError is a store of a copy that could not be opened: Target
// says it was the store copied into.
type OpenStoreError struct {
	Name   string // redacted
	Target bool
	Err    error
}

func (e *OpenStoreError) Error() string { return e.Name + ": " + e.Err.Error() }
func (e *OpenStoreError) Unwrap() error { return e.Err }

// MigrateStoreBetween opens the stores from and to (settings as db takes
// them) with open and copies from into to (MigrateStore); opts.From and
// opts.To name them in messages.
func MigrateStoreBetween(ctx context.Context, open StoreOpener, from, to string, opts MigrateStoreOptions) (MigrateStoreResult, error) {
	fst, err := open(ctx, from, false)
	if err != nil {
		return MigrateStoreResult{}, &OpenStoreError{Name: opts.From, Err: err}
	}
	defer fst.Close()
	tst, err := open(ctx, to, true)
	if err != nil {
		return MigrateStoreResult{}, &OpenStoreError{Name: opts.To, Target: true, Err: err}
	}
	defer tst.Close()
	return MigrateStore(ctx, fst, tst, opts)
}

// MigrateStore copies the store from into to, table by table in key
// order (store.CopyTables), Batch rows per write, then verifies the
// target row by row against the source: every column (metadata as JSON
// values, vectors bit for bit), a count per table, and the store-wide
// values (embedding identity, vector slot, last maintenance pass).
// Nothing is embedded again. The source should have no writers meanwhile.
// A copy that stopped (killed, failed) leaves whole batches behind, so
// Resume continues it without duplicates.
func MigrateStore(ctx context.Context, from, to store.Store, opts MigrateStoreOptions) (MigrateStoreResult, error) {
	res := MigrateStoreResult{From: opts.From, To: opts.To, Resumed: opts.Resume}
	start := time.Now()
	src, ok := from.(store.Copier)
	if !ok {
		return res, fmt.Errorf("the source store %s (%T) cannot be copied wholesale by this build", opts.From, from)
	}
	dst, ok := to.(store.Copier)
	if !ok {
		return res, fmt.Errorf("the target store %s (%T) cannot be copied into by this build", opts.To, to)
	}
	batch := opts.Batch
	if batch == 0 {
		batch = 500
	}
	if batch < 1 || batch > 10000 {
		return res, &Error{Code: CodeInvalid, Message: fmt.Sprintf("batch %d is out of range: give 1 to 10000 rows per write", batch), Err: memory.ErrInvalid}
	}
	if !opts.Resume {
		for _, t := range store.CopyTables {
			n, err := dst.CopyCount(ctx, t.Name)
			if err != nil {
				return res, fmt.Errorf("target %s: %w", opts.To, err)
			}
			if n > 0 {
				return res, &TargetNotEmptyError{To: opts.To, Table: t.Name, Rows: n}
			}
		}
	}
	meta, err := src.CopyMeta(ctx)
	if err != nil {
		return res, fmt.Errorf("source %s: %w", opts.From, err)
	}
	if err := dst.PutCopyMeta(ctx, meta); err != nil {
		return res, fmt.Errorf("target %s: %w", opts.To, err)
	}
	for _, t := range store.CopyTables {
		tr, err := copyTable(ctx, src, dst, t, batch, opts)
		res.Tables = append(res.Tables, tr)
		res.Rows += tr.Copied
		if err != nil {
			res.CopyMS = time.Since(start).Milliseconds()
			return res, err
		}
	}
	res.CopyMS = time.Since(start).Milliseconds()
	if s := time.Since(start).Seconds(); s > 0 {
		res.RowsPerSec = math.Round(float64(res.Rows)/s*10) / 10
	}
	vstart := time.Now()
	verr := verifyCopy(ctx, src, dst, &res, batch)
	res.VerifyMS = time.Since(vstart).Milliseconds()
	res.DurationMS = time.Since(start).Milliseconds()
	res.Verified = verr == nil
	return res, verr
}

// copyTable copies one table, after the last row the target holds.
func copyTable(ctx context.Context, src, dst store.Copier, t store.CopyTable, batch int, opts MigrateStoreOptions) (MigrateStoreTable, error) {
	tr := MigrateStoreTable{Table: t.Name}
	var err error
	if tr.Source, err = src.CopyCount(ctx, t.Name); err != nil {
		return tr, fmt.Errorf("source %s: %w", opts.From, err)
	}
	if tr.Skipped, err = dst.CopyCount(ctx, t.Name); err != nil {
		return tr, fmt.Errorf("target %s: %w", opts.To, err)
	}
	tr.Target = tr.Skipped
	if t.Whole {
		// Copied in one write: all of it is there or none.
		if tr.Skipped > 0 {
			return tr, nil
		}
		rows, err := src.CopyRows(ctx, t.Name, nil, int(min(tr.Source+1, math.MaxInt32)))
		if err != nil {
			return tr, fmt.Errorf("source %s: %w", opts.From, err)
		}
		if len(rows) > 0 {
			if err := dst.PutCopyRows(ctx, t.Name, rows); err != nil {
				return tr, fmt.Errorf("target %s: %w", opts.To, err)
			}
		}
		tr.Copied, tr.Target = int64(len(rows)), int64(len(rows))
		return tr, nil
	}
	after, err := dst.CopyLast(ctx, t.Name)
	if err != nil {
		return tr, fmt.Errorf("target %s: %w", opts.To, err)
	}
	for {
		rows, err := src.CopyRows(ctx, t.Name, after, batch)
		if err != nil {
			return tr, fmt.Errorf("source %s: %w", opts.From, err)
		}
		if len(rows) == 0 {
			return tr, nil
		}
		if err := dst.PutCopyRows(ctx, t.Name, rows); err != nil {
			return tr, fmt.Errorf("target %s: copy %s after %s: %w", opts.To, t.Name, keyText(t, after), err)
		}
		tr.Copied += int64(len(rows))
		tr.Target += int64(len(rows))
		after = rows[len(rows)-1]
		if opts.Progress != nil {
			opts.Progress(t.Name, tr.Target, tr.Source)
		}
	}
}

func keyText(t store.CopyTable, row []any) string {
	if row == nil {
		return "the start"
	}
	n := t.Key
	if t.Whole {
		n = len(t.Columns)
	}
	parts := make([]string, n)
	for i := range n {
		parts[i] = fmt.Sprint(row[i])
	}
	return strings.Join(parts, "/")
}

// maxDiffs is how many differences a VerifyError quotes.
const maxDiffs = 5

// verifyCopy compares every table of dst with src row by row.
func verifyCopy(ctx context.Context, src, dst store.Copier, res *MigrateStoreResult, batch int) error {
	verr := &VerifyError{}
	diff := func(format string, args ...any) {
		verr.Count++
		if len(verr.Differences) < maxDiffs {
			verr.Differences = append(verr.Differences, fmt.Sprintf(format, args...))
		}
	}
	sm, err := src.CopyMeta(ctx)
	if err != nil {
		return fmt.Errorf("verify: source: %w", err)
	}
	dm, err := dst.CopyMeta(ctx)
	if err != nil {
		return fmt.Errorf("verify: target: %w", err)
	}
	for _, k := range store.CopyMetaKeys {
		a, aok := sm[k]
		b, bok := dm[k]
		if k == "embed_slot" { // absent is slot 0
			if !aok {
				a, aok = "0", true
			}
			if !bok {
				b, bok = "0", true
			}
		}
		if aok != bok || (a != b && !(k == "maintain_last" && jsonEqual(a, b))) {
			diff("meta %s: source %q, target %q", k, a, b)
		}
	}
	for i := range res.Tables {
		tr := &res.Tables[i]
		t, _ := store.CopyTableNamed(tr.Table)
		n, err := dst.CopyCount(ctx, t.Name)
		if err != nil {
			return fmt.Errorf("verify: target: %w", err)
		}
		tr.Target = n
		if ns, err := src.CopyCount(ctx, t.Name); err != nil {
			return fmt.Errorf("verify: source: %w", err)
		} else if ns != n {
			diff("%s: %d rows in the source, %d in the target", t.Name, ns, n)
		}
		var after []any
		size := batch
		if t.Whole {
			size = int(min(n+1, math.MaxInt32))
		}
		for {
			a, err := src.CopyRows(ctx, t.Name, after, size)
			if err != nil {
				return fmt.Errorf("verify: source: %w", err)
			}
			b, err := dst.CopyRows(ctx, t.Name, after, size)
			if err != nil {
				return fmt.Errorf("verify: target: %w", err)
			}
			for j := range max(len(a), len(b)) {
				switch {
				case j >= len(a):
					diff("%s %s: only in the target", t.Name, keyText(t, b[j]))
				case j >= len(b):
					diff("%s %s: missing from the target", t.Name, keyText(t, a[j]))
				default:
					if c := differentColumn(t, a[j], b[j]); c != "" {
						diff("%s %s: %s differs", t.Name, keyText(t, a[j]), c)
					} else {
						tr.Verified++
					}
				}
			}
			if len(a) < size || len(b) < size || t.Whole {
				break
			}
			after = a[len(a)-1]
			if differentColumn(store.CopyTable{Columns: t.Columns[:t.Key]}, a[len(a)-1], b[len(b)-1]) != "" {
				break // out of step: the counts above already differ
			}
		}
	}
	if verr.Count > 0 {
		return verr
	}
	return nil
}

// differentColumn names the first column in which rows a and b differ
// ("" when none does).
func differentColumn(t store.CopyTable, a, b []any) string {
	for i, c := range t.Columns {
		if !copyEqual(c.Kind, a[i], b[i]) {
			return c.Name
		}
	}
	return ""
}

func copyEqual(kind store.CopyKind, a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	switch kind {
	case store.CopyBytes:
		x, _ := a.([]byte)
		y, _ := b.([]byte)
		return bytes.Equal(x, y)
	case store.CopyFloat:
		x, _ := a.(float64)
		y, _ := b.(float64)
		return math.Float64bits(x) == math.Float64bits(y)
	case store.CopyJSON:
		x, _ := a.(string)
		y, _ := b.(string)
		return x == y || jsonEqual(x, y)
	}
	return a == b
}

// jsonEqual reports whether two JSON texts hold the same value
// (PostgreSQL's jsonb spaces and orders keys its own way).
func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
