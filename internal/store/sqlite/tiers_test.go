package sqlite

import (
	"testing"

	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/storetest"
)

var tierHooks = storetest.TierHooks{
	Open:     func(t *testing.T) store.Store { return openTemp(t) },
	SetTiers: func(stx store.Tx, mvs []store.TierMove) ([]bool, error) { return stx.(*tx).SetTiers(mvs) },
	Dump:     dumpTiers,
}

func TestSetTiersMatchesSetTier(t *testing.T) { storetest.SetTiersMatchesSetTier(t, 8, tierHooks) }

func TestSetTiersInvalid(t *testing.T) { storetest.SetTiersInvalid(t, tierHooks) }

// dumpTiers is every row's id, revision and metadata, and the tier log
// without its ids.
func dumpTiers(t *testing.T, st store.Store) []string {
	t.Helper()
	s := st.(*Store)
	var out []string
	rows, err := s.rdb.Query(`SELECT id || ' ' || revision || ' ' || metadata FROM memories ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	rows.Close()
	rows, err = s.rdb.Query(`SELECT memory_id || ' ' || from_tier || '>' || to_tier || ' ' || reason || ' ' || at || ' ' || revision FROM tier_transitions ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}
