package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// DefaultBatchSize is how many rows one write transaction takes when
// Importer.BatchSize is 0: large enough to amortise the commit, small
// enough that the write lock is held for milliseconds.
const DefaultBatchSize = 500

// Importer imports trove JSON Lines and memory-lancedb-pro exports.
type Importer struct {
	Store store.Store
	// Embedder embeds the rows that carry no usable vector. Required
	// unless DryRun.
	Embedder embedding.Embedder
	// Access is what the caller may write; rows outside it fail.
	Access memory.Access
	// BatchSize is rows per write transaction (default DefaultBatchSize).
	BatchSize int
	// ScopeOverride, when set, puts every row in this scope instead of its own.
	ScopeOverride memory.Scope
	// DefaultScope is the scope of rows whose scope is null or blank
	// (default global); LegacyImportance reads 1-5 importances on
	// memory-lancedb-pro's old scale (see DecodeOptions).
	DefaultScope     memory.Scope
	LegacyImportance bool
	// Declared reports whether a scope that is not built in is declared in
	// the configuration; rows in other scopes are imported all the same
	// and their scopes listed in Report.UndeclaredScopes. nil: none is.
	Declared func(memory.Scope) bool
	// DryRun parses, validates and checks ids against the store, and
	// reports the counts an import would give, without embedding or writing.
	DryRun bool
	// Dims is the store's vector dimensions, to check vectors in the file
	// before writing. 0: unknown; then the store's recorded space, else the
	// embedder's Info (embedding.Describer), else its first reply decides.
	Dims int
}

// importRow is one row on its way through the pipeline.
type importRow struct {
	pos       string
	m         memory.Memory
	hasVector bool
	adjusted  []string
	noID      bool
	problem   string // "" while the row is still good
	outcome   outcome
}

type outcome int8

const (
	pending outcome = iota
	imported
	skipped
	failed
)

type importBatch struct{ rows []importRow }

// Import reads r (either format, told from its content) and imports it
// batch by batch. Each batch is embedded before the write lock is taken
// and written in one store.Write; the next batch is embedded while one is
// being written.
//
// A row that cannot be imported (invalid, duplicate within the file, scope
// denied, wrong vector dimensions, its batch's embedding failed) is counted
// in Failed and listed in Errors with its position; the other rows go in.
// A row whose id is already in the store is counted in Skipped, so
// importing a file twice adds nothing. Rows without an id get a new one
// each time they are imported.
//
// The error is non-nil when the import could not go on: the file as a
// whole is unusable (*FileError, nothing written), a memory-lancedb-pro
// export is damaged part way (*StopError: the rows before the damage are
// imported), reading failed, the store failed, or ctx ended. The report
// then counts the batches already committed; importing the file again
// completes it.
func (im *Importer) Import(ctx context.Context, r io.Reader) (rep Report, err error) {
	rep = Report{Errors: []RowError{}, Adjustments: map[string]int{}, DefaultScoped: []string{}, UndeclaredScopes: []string{}}
	if im.Store == nil {
		return rep, errors.New("archive: Importer.Store is nil")
	}
	if im.Embedder == nil && !im.DryRun {
		return rep, errors.New("archive: Importer.Embedder is nil")
	}
	if im.ScopeOverride != "" {
		if _, err := memory.ParseScope(string(im.ScopeOverride)); err != nil {
			return rep, fmt.Errorf("scope override: %w", err)
		}
	}
	if im.DefaultScope != "" {
		if _, err := memory.ParseScope(string(im.DefaultScope)); err != nil {
			return rep, fmt.Errorf("default scope: %w", err)
		}
	}
	acct := newAccountant(im.Declared)
	defer acct.finish(&rep)
	size := im.BatchSize
	if size <= 0 {
		size = DefaultBatchSize
	}
	dims, err := im.dims(ctx)
	if err != nil {
		return rep, err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup

	// Stage 1: decode into batches.
	decoded := make(chan *importBatch, 1)
	var format string
	var decodeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(decoded)
		b := &importBatch{rows: make([]importRow, 0, size)}
		send := func() error {
			select {
			case decoded <- b:
				b = &importBatch{rows: make([]importRow, 0, size)}
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		opts := DecodeOptions{DefaultScope: im.DefaultScope, LegacyImportance: im.LegacyImportance}
		format, decodeErr = decode(r, opts, func(it Item) error {
			row := importRow{pos: it.Pos, m: it.Memory, hasVector: it.HasVector, adjusted: it.Adjusted, noID: it.NoID}
			if it.Err != nil {
				row.problem = itemReason(it.Err)
				row.outcome = failed
			}
			b.rows = append(b.rows, row)
			if len(b.rows) == size {
				return send()
			}
			return nil
		})
		// Rows read before damage that stopped the decoder are imported.
		var stop *StopError
		if len(b.rows) > 0 && (decodeErr == nil || errors.As(decodeErr, &stop)) {
			if err := send(); err != nil {
				decodeErr = err
			}
		}
	}()

	// Stage 2: check vectors and embed (or, in a dry run, check ids).
	prepared := make(chan *importBatch, 1)
	var prepareErr error
	var release func() // the file's import lock (lockFile), held to the last write
	var waitedMS int64
	defer func() {
		if release != nil {
			release()
		}
	}()
	_, presence := im.Store.(idChecker)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(prepared)
		first := true
		for b := range decoded {
			var err error
			if first && !im.DryRun {
				first = false
				var waited time.Duration
				release, waited, err = im.lockFile(ctx, b)
				if err != nil {
					prepareErr = err
					cancel()
					break
				}
				waitedMS = waited.Milliseconds()
				// After another import of this file, most rows are in:
				// they are not embedded again.
				presence = presence || waited > 0
			}
			if im.DryRun {
				err = im.check(ctx, b, dims)
			} else {
				err = im.embed(ctx, b, &dims, presence)
			}
			if err != nil {
				prepareErr = err
				cancel()
				break
			}
			select {
			case prepared <- b:
			case <-ctx.Done():
				prepareErr = ctx.Err()
			}
			if prepareErr != nil {
				break
			}
		}
		for range decoded { // let the decoder see ctx and stop
		}
	}()

	// Stage 3: write, one transaction per batch.
	var writeErr error
	for b := range prepared {
		if writeErr == nil && !im.DryRun {
			writeErr = im.write(ctx, b)
			if writeErr != nil {
				cancel()
				continue // drain
			}
		}
		if writeErr == nil {
			acct.add(&rep, b)
		}
	}
	wg.Wait()
	rep.Format = format
	rep.WaitedMS = waitedMS
	switch {
	case writeErr != nil:
		return rep, writeErr
	case decodeErr != nil && !errors.Is(decodeErr, context.Canceled):
		return rep, decodeErr
	case prepareErr != nil && !errors.Is(prepareErr, context.Canceled):
		return rep, prepareErr
	case decodeErr != nil:
		return rep, decodeErr
	case prepareErr != nil:
		return rep, prepareErr
	}
	return rep, nil
}

// dims finds the vector dimensions file vectors must have (0: unknown).
func (im *Importer) dims(ctx context.Context) (int, error) {
	if im.Dims > 0 {
		return im.Dims, nil
	}
	sp, err := im.Store.Space(ctx)
	if err != nil {
		return 0, err
	}
	if sp.Dimensions > 0 {
		return sp.Dimensions, nil
	}
	if d, ok := im.Embedder.(embedding.Describer); ok {
		return d.Info().Dimensions, nil
	}
	return 0, nil
}

// prepareRow applies the scope override and checks a file vector against
// dims. It reports whether the row still needs its text embedded.
func (im *Importer) prepareRow(row *importRow, dims int) (needsEmbedding bool) {
	if row.problem != "" {
		return false
	}
	if im.ScopeOverride != "" {
		row.m.Scope = im.ScopeOverride
	}
	if row.noID && row.m.ID == "" {
		row.m.ID = NaturalID(row.m.Scope, row.m.Text, row.m.CreatedAt)
		row.adjusted = append(row.adjusted, AdjustIDDerived)
	}
	if !row.hasVector {
		return true
	}
	switch {
	case dims > 0 && len(row.m.Vector) != dims:
		row.fail(fmt.Sprintf("vector has %d dimensions, the store uses %d: remove the vector field to re-embed", len(row.m.Vector), dims))
	case allZero(row.m.Vector):
		row.fail("vector is all zeros (it has no direction to compare): remove the vector field to re-embed")
	}
	return false
}

// idChecker is a store that tells which of a batch's ids it holds in one
// query (the PostgreSQL store).
type idChecker interface {
	ExistingIDs(ctx context.Context, ids []string) (map[string]bool, error)
}

// lockFile makes imports of one file exclusive among the processes (hosts)
// sharing the store, where the store has job locks (store.JobLocker): the
// lock is named by a hash of the first batch's first rows (ids, scopes,
// texts, times), which two imports of one file share whatever their batch
// size; an import finding it held waits for it (polling; a lock whose
// holder died is free at once) and returns how long it waited. The
// second import then finds the rows present (presence checks) and embeds
// none of them again: no embedding is doubled, and no row is duplicated
// (ids are unique, and derived for rows without one).
func (im *Importer) lockFile(ctx context.Context, b *importBatch) (release func(), waited time.Duration, err error) {
	jl, ok := im.Store.(store.JobLocker)
	if !ok {
		return nil, 0, nil
	}
	h := sha256.New()
	for i, row := range b.rows {
		if i == importKeyRows {
			break
		}
		fmt.Fprintf(h, "%q %q %q %d\n", row.m.ID, row.m.Scope, row.m.Text, row.m.CreatedAt)
	}
	name := "import:" + hex.EncodeToString(h.Sum(nil)[:12])
	start := time.Now()
	for try := 0; ; try++ {
		release, got, err := jl.TryJob(name)
		if err != nil {
			return nil, 0, fmt.Errorf("take the lock of this file's import: %w", err)
		}
		if got {
			if try == 0 {
				return release, 0, nil
			}
			return release, max(time.Since(start), time.Millisecond), nil
		}
		t := time.NewTimer(importPoll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, 0, ctx.Err()
		}
	}
}

// importKeyRows is how many rows name a file's import lock; importPoll is
// the pause between tries of a held one.
const (
	importKeyRows = 64
	importPoll    = 200 * time.Millisecond
)

// embed embeds the texts of a batch's rows that have no vector, in one
// call. A failed call fails those rows and the import goes on; only the
// end of ctx stops it. With presence, rows whose id is already in the
// store are skipped first, without embedding.
func (im *Importer) embed(ctx context.Context, b *importBatch, dims *int, presence bool) error {
	var texts []string
	var idx []int
	for i := range b.rows {
		if im.prepareRow(&b.rows[i], *dims) {
			idx = append(idx, i)
		}
	}
	if presence && len(idx) > 0 {
		var err error
		if idx, err = im.skipPresent(ctx, b, idx); err != nil {
			return err
		}
	}
	for _, i := range idx {
		texts = append(texts, b.rows[i].m.Text)
	}
	if len(texts) == 0 {
		return nil
	}
	vecs, err := im.Embedder.Embed(ctx, texts)
	if err == nil {
		err = embedding.CheckVectors(vecs, len(texts), *dims)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := fmt.Sprintf("embedding this row's batch failed: %v: import the file again when the embedder works (rows already imported are skipped)", err)
		for _, i := range idx {
			b.rows[i].fail(msg)
		}
		return nil
	}
	if *dims == 0 {
		*dims = len(vecs[0])
	}
	for k, i := range idx {
		b.rows[i].m.Vector = vecs[k]
	}
	return nil
}

// skipPresent marks the rows idx of b whose id the store holds (and the
// caller may write) as skipped, and returns the others.
func (im *Importer) skipPresent(ctx context.Context, b *importBatch, idx []int) ([]int, error) {
	present := map[string]bool{}
	if c, ok := im.Store.(idChecker); ok {
		ids := make([]string, 0, len(idx))
		for _, i := range idx {
			ids = append(ids, b.rows[i].m.ID)
		}
		var err error
		if present, err = c.ExistingIDs(ctx, ids); err != nil {
			return idx, err
		}
	} else {
		for _, i := range idx {
			id := b.rows[i].m.ID
			_, err := im.Store.Get(ctx, im.Access, id)
			switch {
			case err == nil:
				present[id] = true
			case !errors.Is(err, memory.ErrNotFound):
				return idx, fmt.Errorf("%s: check id %s: %w", b.rows[i].pos, id, err)
			}
		}
	}
	out := idx[:0]
	for _, i := range idx {
		row := &b.rows[i]
		if present[row.m.ID] && im.Access.Allows(row.m.Scope) {
			row.outcome = skipped
			continue
		}
		out = append(out, i)
	}
	return out, nil
}

// check is the dry run's stand-in for embed and write: it decides each
// row's outcome as the write would, reading the store but changing nothing.
func (im *Importer) check(ctx context.Context, b *importBatch, dims int) error {
	for i := range b.rows {
		row := &b.rows[i]
		im.prepareRow(row, dims)
		if row.problem != "" {
			continue
		}
		if !im.Access.Allows(row.m.Scope) {
			row.fail((&memory.ScopeDeniedError{Scope: row.m.Scope}).Error())
			continue
		}
		row.outcome = imported
		if row.m.ID == "" {
			continue
		}
		_, err := im.Store.Get(ctx, im.Access, row.m.ID)
		switch {
		case err == nil:
			row.outcome = skipped
		case errors.Is(err, memory.ErrNotFound):
		default:
			return fmt.Errorf("%s: check id %s: %w", row.pos, row.m.ID, err)
		}
	}
	return nil
}

// write inserts a batch's good rows in one transaction. An error that
// concerns one row fails that row; any other error aborts the batch (the
// transaction keeps nothing) and the import.
func (im *Importer) write(ctx context.Context, b *importBatch) error {
	todo := false
	for i := range b.rows {
		if b.rows[i].problem == "" && b.rows[i].outcome != skipped {
			todo = true
			break
		}
	}
	if !todo {
		return nil
	}
	// Outcomes are decided inside fn but only count once Write commits.
	results := make([]outcome, len(b.rows))
	problems := make([]string, len(b.rows))
	// Run again after a deadlock with another host's write (WriteAgain):
	// each run sets every outcome afresh.
	err := store.WriteAgain(ctx, im.Store, im.Access, func(tx store.Tx) error {
		for i := range b.rows {
			row := &b.rows[i]
			if row.problem != "" || row.outcome == skipped {
				continue
			}
			problems[i] = ""
			m := row.m // Insert fills in the id and defaults on its copy
			err := tx.Insert(&m)
			switch {
			case err == nil:
				results[i] = imported
			case errors.Is(err, memory.ErrExists):
				results[i] = skipped
			case store.IsItemError(err):
				results[i] = failed
				problems[i] = reason(err)
			default:
				return fmt.Errorf("%s: %w", row.pos, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import batch ending at %s: %w", b.rows[len(b.rows)-1].pos, err)
	}
	for i := range b.rows {
		if b.rows[i].problem == "" && b.rows[i].outcome != skipped {
			b.rows[i].outcome = results[i]
			b.rows[i].problem = problems[i]
		}
	}
	return nil
}

func (row *importRow) fail(problem string) {
	row.problem = problem
	row.outcome = failed
}

// importIDSpace is the UUID namespace of NaturalID.
var importIDSpace = uuid.MustParse("8a3c2f6e-1d4b-5e7a-9c0f-6b2d8e4a1f37")

// NaturalID is the id an import gives a row that has none: a UUID (version
// 5) of the row's natural key, its scope, text and created time (unix ms
// as read from the file, 0 when it has none), so that importing the same
// file again finds the rows already present instead of adding them twice.
func NaturalID(scope memory.Scope, text string, createdAt int64) string {
	return uuid.NewSHA1(importIDSpace, []byte(string(scope)+"\n"+text+"\n"+strconv.FormatInt(createdAt, 10))).String()
}

// maxListed bounds the positions Report.DefaultScoped lists; the count in
// Adjustments is always whole.
const maxListed = 10000

// accountant adds finished batches to a report, in row order.
type accountant struct {
	declared   func(memory.Scope) bool
	undeclared map[memory.Scope]bool
}

func newAccountant(declared func(memory.Scope) bool) *accountant {
	if declared == nil {
		declared = func(memory.Scope) bool { return false }
	}
	return &accountant{declared: declared, undeclared: map[memory.Scope]bool{}}
}

func (a *accountant) add(rep *Report, b *importBatch) {
	for _, row := range b.rows {
		switch row.outcome {
		case imported, skipped:
			if row.outcome == imported {
				rep.Imported++
			} else {
				rep.Skipped++
			}
			for _, r := range row.adjusted {
				rep.Adjustments[r]++
				if r == AdjustScopeDefaulted && len(rep.DefaultScoped) < maxListed {
					rep.DefaultScoped = append(rep.DefaultScoped, row.pos)
				}
			}
			if sc := row.m.Scope; !sc.BuiltIn() && !a.declared(sc) {
				a.undeclared[sc] = true
			}
		default:
			rep.Failed++
			rep.Errors = append(rep.Errors, RowError{Pos: row.pos, ID: row.m.ID, Error: row.problem})
		}
	}
}

func (a *accountant) finish(rep *Report) {
	for sc := range a.undeclared {
		rep.UndeclaredScopes = append(rep.UndeclaredScopes, string(sc))
	}
	slices.Sort(rep.UndeclaredScopes)
}

func itemReason(err error) string {
	var ie *ItemError
	if errors.As(err, &ie) {
		return ie.Reason
	}
	return err.Error()
}

func allZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}
