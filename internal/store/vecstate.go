package store

// VectorState says which state of a store an index of its vectors is of,
// so that a process may start from an index file written by another
// process (retrieve does) instead of reading every vector: such a file is
// usable only if its Key is the store's Key now, its seq is at most Seq,
// and its vectors of sampled rows not changed since its seq are the
// store's (VectorSample); rows changed after its seq are then read with
// VectorChanges.
type VectorState struct {
	// File is where the store's index file lives ("" for none).
	File string
	// Seq is the store's change sequence, as ChangeSeq.
	Seq int64
	// Key names the store's embedding identity; an index built under
	// another Key must not be used, nor kept by a running process.
	Key string
}

// VectorSample is one row's stored vector and seq.
type VectorSample struct {
	ID     string
	Seq    int64
	Vector []float32
}
