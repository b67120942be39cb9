package store

// Identity is the embedding identity a store records: the model its
// vectors come from (Space; Model names the provider too, e.g.
// "openai:text-embedding-3-small", or the hash embedder's model), the
// vector of a fixed probe text under that model (so a process configured
// with a same-named but different model is caught), the model the last
// reembed moved away from, and the target of a reembed in progress.
type Identity struct {
	Space
	Probe []float32 `json:"-"`
	// Previous is the model the store was moved from by trove reembed
	// (zero when it never was). A process still configured for it writes
	// without vectors and searches lexically, instead of failing.
	Previous Space `json:"previous"`
	// Target is the model a reembed in progress moves to (zero when none).
	Target Space `json:"target"`
	// OldKept reports whether the previous model's vectors were kept
	// (reembed --keep-old), so that --rollback can restore them.
	OldKept bool `json:"old_kept"`
	// Slot is the vector slot holding the store's model's vectors (0 or
	// 1); the other holds a reembed's target vectors, the kept ones, or
	// leftovers being cleared (Clearing).
	Slot     int  `json:"slot"`
	Clearing bool `json:"clearing,omitempty"`
	// Generation counts the switches and rollbacks of the store's
	// vectors: an index or cache of vectors is valid for one (model,
	// dimensions, generation), and every switch or rollback moves it.
	Generation int64 `json:"generation"`
}

// EmbedRow is a row's text to embed, as read, and later its vector: RID
// and Seq say which row and which version of it, so a write of the
// vector can tell whether the text moved on meanwhile.
type EmbedRow struct {
	RID    int64
	ID     string
	Seq    int64
	Text   string
	Vector []float32
}

// ReembedCounts are the figures of a store's embedding state.
type ReembedCounts struct {
	Rows     int // every row
	Shadowed int // rows whose target-model vector is current (during a reembed)
	Pending  int // rows without a vector
	Clear    int // vectors left to clear from the other slot (Identity.Clearing)
	Other    int // vectors in the other slot, whatever they are (target, kept, to clear)
}

// SwitchResult is the outcome of switching (or rolling back) a store's
// embedding identity and vectors.
type SwitchResult struct {
	Switched int // rows that got the new vector
	Queued   int // rows left without a vector (changed at the last moment): embedded by --pending
	KeptOld  int // previous vectors kept for --rollback
	HoldMS   float64
	// Already: another process had switched the store to the target
	// first; nothing was flipped, and the rows given were written into
	// the active slot where still without a vector (a store shared by
	// several hosts, whose switch is made once).
	Already bool
}
