package vecindex

// Vector returns a copy of the unit-normalised vector stored for id.
func (ix *Index) Vector(id string) ([]float32, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	s, ok := ix.slots()[id]
	if !ok {
		return nil, false
	}
	return append([]float32(nil), ix.vecs[s*ix.dims:(s+1)*ix.dims]...), true
}
