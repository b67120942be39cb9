package retrieve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/vecindex"
)

// The vector index file: a process starts from the index another process
// (or an earlier run) wrote next to the store instead of reading and
// encoding every vector, then reads the rows changed since, as it does
// before every search. DESIGN.md ("The index file") has the why and the
// figures.

// vectorStater is a store that offers an index file: where it lives and
// which state of the store an index must be of (store.VectorState). It
// replaces ChangeSeq in sync: one read gives both.
type vectorStater interface {
	VectorState(ctx context.Context) (store.VectorState, error)
	VectorSamples(ctx context.Context, ids []string) ([]store.VectorSample, error)
}

// fileSamples is how many of a file's vectors are compared with the
// store's before it is used.
const fileSamples = 16

// fileMeta is what an index file says of itself beside the index.
type fileMeta struct {
	Key    string      `json:"key"` // store.VectorState.Key when it was current
	Seq    int64       `json:"seq"` // the change seq it is current to
	Groups []fileGroup `json:"groups"`
}

// fileGroup is one entry of Retriever.groups.
type fileGroup struct {
	Scope    string `json:"s"`
	Category string `json:"c"`
	Smart    string `json:"m"`
	Group    uint32 `json:"g"`
}

// saveEvery is how many vectors may change after the file's seq before a
// process writes a new file: a fraction of the index, so that a process
// starting from the file catches up on a few percent of its rows at most,
// and not so often that a busy store rewrites it all the time.
func saveEvery(n int) int { return max(256, n/32) }

// loadFile starts the index from the file at st.File if it is of st's
// Key, not ahead of st.Seq, and holds the store's vectors for the sampled
// rows not changed since its seq. Caller holds r.mu, with r.ix nil. It
// returns a warning for a file that exists but cannot be used, other than
// one out of date or of another model (a reembed makes those).
func (r *Retriever) loadFile(ctx context.Context, vs vectorStater, st store.VectorState) string {
	ix, raw, err := vecindex.OpenFile(st.File)
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	var meta fileMeta
	if err == nil {
		if err = json.Unmarshal(raw, &meta); err != nil {
			err = fmt.Errorf("%w: its description: %v", vecindex.ErrBadFile, err)
		}
	}
	if err != nil {
		return fmt.Sprintf("vector index file %s is unusable (%v): rebuilt it from the store", st.File, err)
	}
	if meta.Key != st.Key || meta.Seq > st.Seq || !r.samplesMatch(ctx, vs, ix, meta.Seq) {
		return "" // another model, another store's file: rebuilt and replaced
	}
	groups := make(map[groupKey]uint32, len(meta.Groups))
	for _, g := range meta.Groups {
		groups[groupKey{memory.Scope(g.Scope), memory.Category(g.Category), memory.SmartCategory(g.Smart)}] = g.Group
	}
	r.ix, r.seq, r.groups, r.fileSeq, r.sinceFile = ix, meta.Seq, groups, meta.Seq, 0
	return ""
}

// samplesMatch compares fileSamples of ix's vectors with the store's:
// every sampled row the store has, unchanged since seq, must have the
// same vector, and an index that is not empty must have one such row.
func (r *Retriever) samplesMatch(ctx context.Context, vs vectorStater, ix *vecindex.Index, seq int64) bool {
	ids := ix.Sample(fileSamples)
	if len(ids) == 0 {
		return true
	}
	rows, err := vs.VectorSamples(ctx, ids)
	if err != nil {
		return false
	}
	checked := 0
	for _, row := range rows {
		if row.Seq > seq {
			continue // changed since: the catch-up reads it
		}
		if !ix.Holds(row.ID, row.Vector) {
			return false
		}
		checked++
	}
	return checked > 0
}

// fileWriter lets one index file write run at a time in the process:
// each holds a copy of the index's slabs while it writes (the file's
// size), and a second at the same time would only write the same file.
var fileWriter = make(chan struct{}, 1)

// closeWait bounds how long Close waits for a write under way.
const closeWait = 10 * time.Second

// saveDue returns the write of the index file if enough has changed since
// the file (caller holds r.mu; the caller runs it in the background, so
// that no search waits for it). The meta is taken now; the index may
// have moved on by the time its slabs are copied, which is safe: every
// row it holds that is newer than meta.Seq has a seq above it, so a
// process starting from the file reads it again (Upsert and Delete
// replayed on the state they produced change nothing), and a group
// number the meta does not list belongs only to such rows, which get
// their group again from the replay.
func (r *Retriever) saveDue(st store.VectorState) func() {
	if st.File == "" || r.ix == nil || r.saving || r.closed || (r.fileSeq > 0 && r.sinceFile < saveEvery(r.ix.Len())) {
		return nil
	}
	select {
	case fileWriter <- struct{}{}:
	default:
		return nil // another retriever of this process is writing: a later search will
	}
	meta := fileMeta{Key: st.Key, Seq: r.seq}
	for k, g := range r.groups {
		meta.Groups = append(meta.Groups, fileGroup{string(k.scope), string(k.category), string(k.smart), g})
	}
	raw, err := json.Marshal(meta)
	if err != nil {
		<-fileWriter
		return nil
	}
	ix := r.ix
	r.saving = true
	r.saves.Add(1)
	r.fileSeq, r.sinceFile = r.seq, 0
	return func() {
		defer func() {
			<-fileWriter
			r.mu.Lock()
			r.saving = false
			r.mu.Unlock()
			r.saves.Done()
		}()
		removeStaleTemps(st.File)
		if err := ix.WriteFile(st.File, raw); err != nil {
			// It costs the next process a full load and nothing else (a
			// read-only directory, a full disk).
			if r.opts.IndexFileError != nil {
				r.opts.IndexFileError(fmt.Errorf("write vector index file %s: %w", st.File, err))
			}
			return
		}
		r.dropIfPurged(st.File, meta.Seq)
	}
}

// dropIfPurged removes the file just written at seq if a purge committed
// after seq (the tombstone horizon moved past it: store/sqlite's Purge
// raises it): the index it was copied from may hold the purged row, and
// the purge's own removal of the file may have come before this rename.
// Reading the horizon after the rename closes the gap: a purge that
// commits later removes the file itself.
func (r *Retriever) dropIfPurged(file string, seq int64) {
	h, ok := r.st.(horizoner)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeWait)
	defer cancel()
	horizon, err := h.TombstoneHorizon(ctx)
	if err != nil || horizon > seq {
		// Unknown or behind the horizon: a process starting from it would
		// reload in full anyway (catchUp).
		_ = os.Remove(file)
	}
}

// Close waits, up to closeWait or ctx, for an index file write under way
// and starts no more: a one-shot process (trove search) that did a full
// load writes the file before it exits, so that the next one maps it. A
// write cut short leaves a temporary file that a later write removes; it
// is not an error of the caller's, so Close returns none. Searches after
// Close still work; they write no file.
func (r *Retriever) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		r.saves.Wait()
		close(done)
	}()
	ctx, cancel := context.WithTimeout(ctx, closeWait)
	defer cancel()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}

// removeStaleTemps removes temporary files a killed process left behind
// while writing the index file (an hour old: not one being written now).
func removeStaleTemps(file string) {
	temps, _ := filepath.Glob(file + ".tmp-*")
	for _, t := range temps {
		if fi, err := os.Stat(t); err == nil && time.Since(fi.ModTime()) > time.Hour {
			_ = os.Remove(t)
		}
	}
}

// takeFileWarning returns, once, what the last load said of an unusable
// index file.
func (r *Retriever) takeFileWarning() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.fileWarn
	r.fileWarn = ""
	return w
}

// WarmIndexFile brings st's vector index file up to date (writing it if
// it is missing, out of date or of another model) without searching: what
// a reembed runs after its switch, so that the first search on the new
// model maps the file instead of reading every vector.
func WarmIndexFile(ctx context.Context, st store.Searcher) error {
	if _, ok := st.(vectorStater); !ok {
		return nil
	}
	r := New(st, nil, nil, Options{})
	err := r.sync(ctx)
	r.Close(ctx)
	return err
}
