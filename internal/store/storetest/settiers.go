package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// TierHooks are what the SetTiers tests need of a backend besides
// store.Store: SetTiers is not part of store.TierTx.
type TierHooks struct {
	// Open returns a fresh, empty store; the test closes it.
	Open Opener
	// SetTiers runs the backend's batch move in tx.
	SetTiers func(tx store.Tx, mvs []store.TierMove) ([]bool, error)
	// Dump is every row's id, revision and metadata, and the tier log
	// without its ids, as text the two stores are compared by.
	Dump func(t *testing.T, s store.Store) []string
}

// tierOf is a row's tier as the lifecycle reads it: core or peripheral
// when the metadata says so, else working.
func tierOf(v any) string {
	if s, _ := v.(string); s == "core" || s == "peripheral" {
		return s
	}
	return "working"
}

// Property: SetTiers (one batch, three statements) moves exactly the rows
// that SetTier, move by move, moves, and leaves the same rows and the same
// log: over rows in several tiers and scopes, edited (revision), recalled
// (access count, one stored as a string), deleted, and moves read from
// them before or after those changes, some with the checks skipped, run
// with the owner's access and with an agent's.
func SetTiersMatchesSetTier(t *testing.T, seeds uint64, h TierHooks) {
	tiers := []string{"core", "working", "peripheral"}
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 7))
		one, batch := h.Open(t), h.Open(t)
		const n = 60
		type read struct {
			tier  string
			rev   int64
			count int
		}
		reads := make([]read, n)
		acc := memory.Owner()
		if seed%2 == 1 {
			acc = memory.AgentAccess("a")
		}
		// The same history in both stores.
		for _, s := range []store.Store{one, batch} {
			err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
				for i := range n {
					md := map[string]any{}
					if k := i % 4; k < 3 {
						md[memory.KeyTier] = tiers[k]
					}
					if i%7 == 3 {
						md[memory.KeyAccessCount] = "2" // as some imports store it
					}
					scope := memory.GlobalScope
					if i%5 == 4 {
						scope = "agent:b"
					} else if i%5 == 3 {
						scope = "agent:a"
					}
					m := memory.Memory{ID: fmt.Sprintf("m%02d", i), Text: fmt.Sprintf("row %d", i), Scope: scope, Metadata: md}
					if err := tx.Insert(&m); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		for i := range n {
			m, err := one.Get(ctx, memory.Owner(), fmt.Sprintf("m%02d", i))
			if err != nil {
				t.Fatal(err)
			}
			reads[i] = read{tier: tierOf(m.Metadata[memory.KeyTier]), rev: m.Revision, count: 0}
			if i%7 == 3 {
				reads[i].count = 2
			}
		}
		// Changes after the read, the same in both.
		changes := rng.Perm(n)[:n/3]
		for _, s := range []store.Store{one, batch} {
			err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
				for k, i := range changes {
					id := fmt.Sprintf("m%02d", i)
					switch k % 4 {
					case 0:
						m, err := tx.Get(id)
						if err != nil {
							return err
						}
						m.Text += " (edited)"
						if err := tx.Update(&m); err != nil {
							return err
						}
					case 1:
						if err := tx.Touch(id, 1, 5000); err != nil {
							return err
						}
					case 2:
						if err := tx.Delete(id, 0); err != nil {
							return err
						}
					case 3: // moved by someone else
						if _, err := tx.(store.TierTx).SetTier(store.TierMove{ID: id, From: reads[i].tier, To: other(reads[i].tier), AccessCount: -1}); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		var mvs []store.TierMove
		for i, r := range reads {
			mv := store.TierMove{ID: fmt.Sprintf("m%02d", i), From: r.tier, To: tiers[rng.IntN(3)], Revision: r.rev, AccessCount: r.count, Reason: "test", At: int64(1000 + i)}
			if mv.To == mv.From {
				mv.To = other(mv.From)
			}
			switch rng.IntN(5) {
			case 0:
				mv.Revision = 0
			case 1:
				mv.AccessCount = -1
			}
			mvs = append(mvs, mv)
		}
		mvs = append(mvs, store.TierMove{ID: "missing", From: "working", To: "core", AccessCount: -1})

		want := make([]bool, len(mvs))
		if err := one.Write(ctx, acc, func(tx store.Tx) error {
			for i, mv := range mvs {
				ok, err := tx.(store.TierTx).SetTier(mv)
				if errors.Is(err, memory.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				want[i] = ok
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var got []bool
		if err := batch.Write(ctx, acc, func(stx store.Tx) error {
			var err error
			got, err = h.SetTiers(stx, mvs)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: SetTiers moved %v, SetTier %v", seed, got, want)
		}
		moved := 0
		for _, ok := range want {
			if ok {
				moved++
			}
		}
		if moved == 0 || moved == len(mvs) {
			t.Fatalf("seed %d: %d of %d moved: the case does not tell the two apart", seed, moved, len(mvs))
		}
		a, b := h.Dump(t, one), h.Dump(t, batch)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: the stores differ after the moves:\n%v\n%v", seed, a, b)
		}
		one.Close()
		batch.Close()
	}
}

func other(tier string) string {
	if tier == "working" {
		return "peripheral"
	}
	return "working"
}

// An invalid move fails the whole batch before anything is written.
func SetTiersInvalid(t *testing.T, h TierHooks) {
	s := h.Open(t)
	defer s.Close()
	m := memory.Memory{ID: "a", Text: "a"}
	if _, err := store.PutMany(ctx, s, memory.Owner(), []memory.Memory{m}); err != nil {
		t.Fatal(err)
	}
	err := s.Write(ctx, memory.Owner(), func(stx store.Tx) error {
		_, err := h.SetTiers(stx, []store.TierMove{{ID: "a", From: "working", To: "peripheral", AccessCount: -1}, {ID: "a", From: "working", To: "gold"}})
		return err
	})
	if !errors.Is(err, memory.ErrInvalid) {
		t.Fatalf("an unknown tier: %v", err)
	}
	if got, _ := s.Get(ctx, memory.Owner(), "a"); got.Metadata[memory.KeyTier] != nil {
		t.Fatalf("a failed batch moved a row: %+v", got.Metadata)
	}
}
