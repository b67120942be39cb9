package postgres

import (
	"context"
	"fmt"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store/rowcodec"
)

// Vectors returns the active-slot vectors of the rows of ids that acc
// reaches (rows without one are left out), for a retriever that searches
// the server's index and so holds no vectors of its own: it scores the
// text side's candidates by cosine too.
func (s *Store) Vectors(ctx context.Context, acc memory.Access, ids []string) (map[string][]float32, error) {
	out := map[string][]float32{}
	if len(ids) == 0 {
		return out, nil
	}
	var a args
	q := "SELECT id, " + vecActive + " FROM memories WHERE id = ANY(" + a.add(ids) + "::text[]) AND " + scopeClause("", acc, nil, &a)
	rows, err := s.pool.Query(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("read vectors: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var raw []byte
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, fmt.Errorf("read vectors: %w", err)
		}
		if raw == nil {
			continue
		}
		v, err := rowcodec.DecodeVector(raw)
		if err != nil {
			return nil, fmt.Errorf("read vectors: %s: %w", id, err)
		}
		out[id] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read vectors: %w", err)
	}
	return out, nil
}
