package store

import "context"

// RowClaimer lets runners of one batch job on several processes (hosts)
// share its rows instead of each doing all of them: a runner claims a row
// before it spends work on it (an LLM call) and skips a row another
// runner holds. A store implements it when its writers can run on several
// hosts at once (PostgreSQL); a job on a store without it runs as before
// (every runner does every row it finds, and the revision checks keep the
// result correct).
type RowClaimer interface {
	// ClaimRows opens this runner's claims on the rows of job. Claims are
	// held by the server for the runner's session: they end when the
	// runner closes them or its process dies, never by age.
	ClaimRows(ctx context.Context, job string) (Claims, error)
}

// Claims are one runner's claims on rows of a job (see RowClaimer).
type Claims interface {
	// Try claims id without waiting: false when another runner holds it.
	// A claim taken by this runner again is still held (true).
	Try(ctx context.Context, id string) (bool, error)
	// Release gives up the claims on ids (each claimed once).
	Release(ctx context.Context, ids ...string) error
	// Close gives up every claim; safe to call more than once.
	Close() error
}
