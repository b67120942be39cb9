package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"weak"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/rowcodec"
)

// pgvector: when the server has the extension (pg_available_extensions),
// the store keeps a copy of the active slot's vectors as vector(d) in
// memory_vectors, with an HNSW index (cosine), and answers nearest-
// neighbour queries on the server (VectorSearch). Without it nothing
// changes: vectors are bytea in memories, and retrieval scores them in Go
// from its in-memory index (VectorChanges).
//
// memory_vectors is brought up to date from the change feed, the way a
// retriever's in-memory index is: VectorSearch first applies what changed
// after meta pgvector_seq (the rows and tombstones stamped since), in one
// transaction under an advisory lock, so hosts searching at once share
// the work and every commit before the search is in it. So every write
// path that changes a vector (insert, update, reembed's slot switch,
// purge) reaches it without a hook of its own. When the embedding model
// changes (VectorState's key, kept in meta pgvector_key), or deletions
// the store has pruned (tombstone horizon) were never applied, the copy is
// rebuilt; when the dimensions change, the table is made again.
//
// The extension is created (CREATE EXTENSION IF NOT EXISTS vector) on
// first use; a role that may not create it gets pgvector only once an
// administrator has.

// ErrNoPGVector says the server does not have pgvector (or this role may
// not create it): vector search runs in the retriever instead.
var ErrNoPGVector = errors.New("the PostgreSQL server has no pgvector extension (vector search runs in trove instead)")

// lockPGVector is the advisory lock (two-int form, class lockClass) that
// serialises catching memory_vectors up.
const lockPGVector int32 = 0x76656331 // "vec1"

// pgvectorState is what a store found out about pgvector on first use.
type pgvectorState struct {
	once      sync.Once
	available bool
	reason    string // why not, when not
	err       error  // the check itself failed (retried next time)
}

var pgvectorStates sync.Map // weak.Pointer[Store] → *pgvectorState

// PGVector reports whether the server has pgvector and the store uses
// it, and if not, why (for doctor and logs). It creates the extension if
// the server offers it and it is not yet created.
func (s *Store) PGVector(ctx context.Context) (bool, string, error) {
	st := perStore(&pgvectorStates, s, func() *pgvectorState { return &pgvectorState{} })
	st.once.Do(func() { st.available, st.reason, st.err = s.detectPGVector(ctx) })
	if st.err != nil {
		err := st.err
		pgvectorStates.Delete(weak.Make(s)) // a failed check is tried again
		return false, "", err
	}
	return st.available, st.reason, nil
}

func (s *Store) detectPGVector(ctx context.Context) (bool, string, error) {
	var offered, created bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector'),
		EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')`).Scan(&offered, &created)
	if err != nil {
		return false, "", fmt.Errorf("check for pgvector: %w", err)
	}
	if !offered {
		return false, "the server does not offer the vector extension (install pgvector on it to search vectors there)", nil
	}
	if !created {
		if _, err := s.pool.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS vector"); err != nil {
			return false, "the vector extension is offered but this role cannot create it (" + err.Error() +
				"): run CREATE EXTENSION vector as an administrator", nil
		}
	}
	return true, "", nil
}

// VectorHit is a nearest neighbour: Score is the cosine similarity.
type VectorHit = store.VectorHit

// ServerVectors is PGVector for store.VectorSearcher: a retriever over
// this store searches the server's HNSW index when it has pgvector.
func (s *Store) ServerVectors(ctx context.Context) (bool, string, error) { return s.PGVector(ctx) }

var _ store.VectorSearcher = (*Store)(nil)

// VectorSearch returns the k rows (within acc and f) whose active vectors
// are nearest to vec by cosine, best first, from the server's HNSW index:
// approximate, as HNSW is (hnsw.ef_search is raised to at least 2k). It
// returns ErrNoPGVector when the server has no pgvector.
func (s *Store) VectorSearch(ctx context.Context, acc memory.Access, f store.Filter, vec []float32, k int) ([]VectorHit, error) {
	if k <= 0 {
		return nil, nil
	}
	if len(vec) == 0 || rowcodec.ZeroVector(vec) {
		return nil, fmt.Errorf("vector search: %w: the query vector is empty or all zero", memory.ErrInvalid)
	}
	for _, x := range vec {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("vector search: %w: the query vector has a NaN or infinite value", memory.ErrInvalid)
		}
	}
	ok, _, err := s.PGVector(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNoPGVector
	}
	dims, err := s.syncPGVector(ctx)
	if err != nil {
		return nil, fmt.Errorf("vector search: %w", err)
	}
	if dims == 0 {
		return nil, nil // no vectors stored
	}
	if len(vec) != dims {
		return nil, fmt.Errorf("vector search: %w: the query vector has %d dimensions, the stored ones %d", memory.ErrInvalid, len(vec), dims)
	}
	var hits []VectorHit
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(rtx pgx.Tx) error {
		if _, err := rtx.Exec(ctx, "SELECT set_config('hnsw.ef_search', $1, true)", strconv.Itoa(max(40, 2*k))); err != nil {
			return err
		}
		var a args
		pv := a.add(vectorLiteral(vec))
		where := filterClause("m.", acc, f, &a)
		q := "SELECT v.id, 1 - (v.embedding <=> " + pv + "::vector) FROM memory_vectors v JOIN memories m ON m.id = v.id WHERE " +
			where + " ORDER BY v.embedding <=> " + pv + "::vector LIMIT " + strconv.Itoa(k)
		rows, err := rtx.Query(ctx, q, a...)
		if err != nil {
			return err
		}
		hits, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (VectorHit, error) {
			var h VectorHit
			err := r.Scan(&h.ID, &h.Score)
			return h, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("vector search: %w", err)
	}
	return hits, nil
}

// vectorLiteral is pgvector's text form of v.
func vectorLiteral(v []float32) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatFloat(float64(x), 'g', -1, 32))
	}
	b.WriteByte(']')
	return b.String()
}

// syncPGVector brings memory_vectors up to the store's last commit and
// returns its dimensions (0: no table yet, no vectors stored).
func (s *Store) syncPGVector(ctx context.Context) (int, error) {
	var dims int
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(wtx pgx.Tx) error {
		if _, err := wtx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", lockClass, lockPGVector); err != nil {
			return err
		}
		// Read after the lock: a sync that committed meanwhile is seen.
		var seq, done, horizon int64
		var key, doneKey, dimsText string
		err := wtx.QueryRow(ctx, `SELECT (SELECT value::bigint FROM meta WHERE key = 'seq'),
			coalesce((SELECT value::bigint FROM meta WHERE key = 'pgvector_seq'), 0),
			coalesce((SELECT value FROM meta WHERE key = 'pgvector_key'), ''),
			coalesce((SELECT value FROM meta WHERE key = 'pgvector_dims'), '0'),
			coalesce((SELECT value::bigint FROM meta WHERE key = 'tombstone_horizon'), 0)`).Scan(&seq, &done, &doneKey, &dimsText, &horizon)
		if err != nil {
			return err
		}
		dims, _ = strconv.Atoi(dimsText)
		vs, err := readVectorState(ctx, wtx)
		if err != nil {
			return err
		}
		key = vs.Key
		if key != doneKey || done < horizon {
			done = 0 // another model, or deletions pruned before they were applied: rebuild
			if dims > 0 {
				if _, err := wtx.Exec(ctx, "TRUNCATE memory_vectors"); err != nil {
					return err
				}
			}
		}
		if seq <= done && key == doneKey {
			return nil
		}
		// The changes after done, each statement seeing every commit up
		// to seq (stamped under the seq row's lock to its commit). A row
		// changed again after seq carries a later seq and comes next time.
		q := "SELECT id, " + vecActive + " FROM memories WHERE seq > $1 AND seq <= $2"
		if done == 0 {
			q += " AND " + vecActive + " IS NOT NULL"
		}
		rows, err := wtx.Query(ctx, q, done, seq)
		if err != nil {
			return err
		}
		type row struct {
			id  string
			vec []float32
		}
		var changed []row
		var gone []string
		for rows.Next() {
			var id string
			var blob []byte
			if err := rows.Scan(&id, &blob); err != nil {
				rows.Close()
				return err
			}
			v, err := rowcodec.DecodeVector(blob)
			if err != nil {
				rows.Close()
				return fmt.Errorf("memory %s: %w", id, err)
			}
			if rowcodec.ZeroVector(v) {
				gone = append(gone, id)
				continue
			}
			changed = append(changed, row{id, v})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// A first load (or a rebuild) takes its dimensions from the rows.
		if len(changed) > 0 && (dims == 0 || (done == 0 && len(changed[0].vec) != dims)) {
			if err := makeVectorTable(ctx, wtx, len(changed[0].vec)); err != nil {
				return err
			}
			dims = len(changed[0].vec)
		}
		ids := make([]string, len(changed))
		vecs := make([]string, len(changed))
		for i, c := range changed {
			if len(c.vec) != dims {
				return fmt.Errorf("memory %s has a vector of %d dimensions where the others have %d (run trove doctor)", c.id, len(c.vec), dims)
			}
			ids[i], vecs[i] = c.id, vectorLiteral(c.vec)
		}
		if done > 0 {
			drows, err := wtx.Query(ctx, "SELECT id FROM tombstones WHERE seq > $1 AND seq <= $2", done, seq)
			if err != nil {
				return err
			}
			tombs, err := pgx.CollectRows(drows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			gone = append(gone, tombs...)
		}
		if dims > 0 && len(gone) > 0 {
			if _, err := wtx.Exec(ctx, "DELETE FROM memory_vectors WHERE id = ANY($1::text[])", gone); err != nil {
				return err
			}
		}
		if len(ids) > 0 {
			_, err := wtx.Exec(ctx, `INSERT INTO memory_vectors(id, embedding)
				SELECT i, e::vector FROM unnest($1::text[], $2::text[]) AS x(i, e)
				ON CONFLICT (id) DO UPDATE SET embedding = excluded.embedding`, ids, vecs)
			if err != nil {
				return err
			}
		}
		_, err = wtx.Exec(ctx, `INSERT INTO meta(key, value) VALUES ('pgvector_seq', $1), ('pgvector_key', $2), ('pgvector_dims', $3)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, strconv.FormatInt(seq, 10), key, strconv.Itoa(dims))
		return err
	})
	return dims, err
}

// makeVectorTable (re)creates memory_vectors for vectors of dims
// dimensions, with its HNSW index.
func makeVectorTable(ctx context.Context, wtx pgx.Tx, dims int) error {
	if dims < 1 || dims > 2000 {
		return fmt.Errorf("pgvector's HNSW index takes 1 to 2000 dimensions, the stored vectors have %d", dims)
	}
	for _, q := range []string{
		"DROP TABLE IF EXISTS memory_vectors",
		fmt.Sprintf(`CREATE TABLE memory_vectors (
			id        text COLLATE "C" PRIMARY KEY,
			embedding vector(%d) NOT NULL
		)`, dims),
		"CREATE INDEX memory_vectors_hnsw ON memory_vectors USING hnsw (embedding vector_cosine_ops)",
	} {
		if _, err := wtx.Exec(ctx, q); err != nil {
			return fmt.Errorf("create memory_vectors: %w", err)
		}
	}
	return nil
}
