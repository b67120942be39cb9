package memory

// Metadata keys of a memory's governance, as memory-lancedb-pro names them
// (src/smart-metadata.ts), so rows migrated from it keep their state.
// Times are unix milliseconds.
const (
	// KeyState is pending, confirmed or archived (the State values).
	KeyState = "state"
	// KeyLayer is durable, working, reflection or archive (the Layer
	// values): where a memory lives, not its tier.
	KeyLayer = "memory_layer"
	// KeyArchivedAt is when the row was archived; with state archived,
	// the row is not active from then on (ActiveAt).
	KeyArchivedAt = "archived_at"
	// KeyArchiveReason says why (manual_archive, compact_duplicate,
	// expired, or what the caller gave).
	KeyArchiveReason = "archive_reason"
	// KeyCanonicalID names the row a compacted duplicate was folded into.
	KeyCanonicalID = "canonical_id"
	// KeySuppressedUntil is when auto-recall may inject the row again.
	KeySuppressedUntil = "suppressed_until_ms"
	// Auto-recall feedback counters.
	KeyInjectedCount      = "injected_count"
	KeyBadRecallCount     = "bad_recall_count"
	KeyLastInjectedAt     = "last_injected_at"
	KeyLastConfirmedUseAt = "last_confirmed_use_at"
)

// The values of KeyState. A row without one is confirmed.
const (
	StatePending   = "pending"
	StateConfirmed = "confirmed"
	StateArchived  = "archived"
)

// The values of KeyLayer.
const (
	LayerDurable    = "durable"
	LayerWorking    = "working"
	LayerReflection = "reflection"
	LayerArchive    = "archive"
)

// ValidState reports whether s is a value of KeyState.
func ValidState(s string) bool {
	return s == StatePending || s == StateConfirmed || s == StateArchived
}

// ValidLayer reports whether l is a value of KeyLayer.
func ValidLayer(l string) bool {
	return l == LayerDurable || l == LayerWorking || l == LayerReflection || l == LayerArchive
}

// ArchivedSince is the time ArchivedAt gives a row whose state is
// archived but which names no archived_at (a row written by hand or by
// an older tool): archived at every time that can be asked about.
const ArchivedSince = 1

// ArchivedAt is when m was archived, 0 when it is not archived: its
// archived_at when its state is archived (ArchivedSince when it names
// none). An archived_at left on a row whose state is no longer archived
// (promoted back) does not count.
func ArchivedAt(m Memory) int64 {
	if MetaString(m.Metadata, KeyState) != StateArchived {
		return 0
	}
	if f, ok := MetaMillis(m.Metadata, KeyArchivedAt); ok {
		return int64(f)
	}
	return ArchivedSince
}

// SuppressedAt reports whether auto-recall must not inject m at unix-ms
// at (feedback suppressed it until a later time).
func SuppressedAt(m Memory, at int64) bool {
	f, ok := MetaMillis(m.Metadata, KeySuppressedUntil)
	return ok && int64(f) > at
}

// Pending reports whether m awaits confirmation (not auto-recalled).
func Pending(m Memory) bool {
	return MetaString(m.Metadata, KeyState) == StatePending
}
