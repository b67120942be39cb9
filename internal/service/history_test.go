package service_test

import (
	"reflect"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/service/servicetest"
	"github.com/trove-memory/trove/internal/store"
)

func code(err error) service.Code { return service.ErrorOf(err).Code }

// content is what a revert or a restore must bring back exactly.
func content(m service.Memory) service.Memory {
	m.UpdatedAt, m.Revision = 0, 0
	return m
}

func TestHistoryAndRevertRoundTrip(t *testing.T) {
	e := newEnv(t)
	// A fact, not a preference: a preference's new text would supersede it.
	orig, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "prefers vim", Category: "fact", Metadata: map[string]any{"source": "chat"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Update(ctx, bot, service.UpdateInput{ID: orig.ID, UpdateFields: service.UpdateFields{
		Text: ptr("prefers emacs now"), Importance: ptr(0.9), Category: ptr("decision"), Metadata: map[string]any{"source": nil, "why": "switched"}}}); err != nil {
		t.Fatal(err)
	}
	h, err := e.svc.History(ctx, bot, service.HistoryInput{ID: orig.ID[:8]})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Versions) != 1 || h.Current == nil || h.Current.Revision != 2 || h.Deleted {
		t.Fatalf("history: %+v", h)
	}
	v := h.Versions[0]
	if v.Revision != 1 || v.Text != "prefers vim" || v.ReplacedBy != "bot" || v.Change != store.ChangeUpdate ||
		v.Diff != "prefers [-vim-]{+emacs now+}" {
		t.Fatalf("version: %+v diff %q", v.Version, v.Diff)
	}
	// A revert computed from an old read is refused.
	if _, err := e.svc.Revert(ctx, owner, service.RevertInput{ID: orig.ID, To: 1, ExpectedRevision: 1}); code(err) != service.CodeConflict {
		t.Fatalf("stale revert: %v", err)
	}
	back, err := e.svc.Revert(ctx, owner, service.RevertInput{ID: orig.ID, To: 1, ExpectedRevision: 2})
	if err != nil {
		t.Fatal(err)
	}
	if back.Revision != 3 || !reflect.DeepEqual(content(back), content(orig.Memory)) {
		t.Fatalf("revert did not round-trip:\n got %+v\nwant %+v", back, orig)
	}
	got, _ := e.svc.GetWithVector(ctx, owner, orig.ID)
	want, _ := servicetest.Embedder().Embed(ctx, []string{"prefers vim"})
	if !reflect.DeepEqual(got.Vector, want[0]) {
		t.Error("revert kept the vector of the replaced text")
	}
	// The revert is itself a version.
	h, _ = e.svc.History(ctx, owner, service.HistoryInput{ID: orig.ID})
	if len(h.Versions) != 2 || h.Versions[0].Revision != 2 || h.Versions[0].ReplacedBy != memory.OwnerName {
		t.Fatalf("after revert: %+v", h.Versions)
	}
	for _, tc := range []struct {
		in   service.RevertInput
		want service.Code
	}{
		{service.RevertInput{ID: orig.ID, To: 0}, service.CodeInvalid},
		{service.RevertInput{ID: orig.ID, To: 3}, service.CodeInvalid},
		{service.RevertInput{ID: orig.ID, To: 99}, service.CodeNotFound},
		{service.RevertInput{ID: "missing-id", To: 1}, service.CodeNotFound},
	} {
		if _, err := e.svc.Revert(ctx, owner, tc.in); code(err) != tc.want {
			t.Errorf("revert %+v: %v, want %s", tc.in, err, tc.want)
		}
	}
}

func TestHistoryScopeDenial(t *testing.T) {
	e := newEnv(t)
	m := e.store(t, bot, "bot's private note", "agent:bot")
	if _, err := e.svc.Update(ctx, bot, service.UpdateInput{ID: m.ID, UpdateFields: service.UpdateFields{Text: ptr("bot's private note, edited")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.History(ctx, other, service.HistoryInput{ID: m.ID}); code(err) != service.CodeNotFound {
		t.Fatalf("another agent's history read: %v, want not_found", err)
	}
	if _, err := e.svc.Revert(ctx, other, service.RevertInput{ID: m.ID, To: 1}); code(err) != service.CodeNotFound {
		t.Fatalf("another agent's revert: %v, want not_found", err)
	}
	// Moved to global: the other agent sees the row but not what it said in agent:bot.
	if _, err := e.svc.Update(ctx, bot, service.UpdateInput{ID: m.ID, UpdateFields: service.UpdateFields{Scope: ptr("global")}}); err != nil {
		t.Fatal(err)
	}
	h, err := e.svc.History(ctx, other, service.HistoryInput{ID: m.ID})
	if err != nil || len(h.Versions) != 0 || h.Current == nil {
		t.Fatalf("other after the move to global: %+v %v", h, err)
	}
	if _, err := e.svc.Revert(ctx, other, service.RevertInput{ID: m.ID, To: 2}); code(err) != service.CodeNotFound {
		t.Fatalf("revert to a version the caller cannot read: %v", err)
	}
	// Reverting to a version in a scope the caller may not write is denied.
	g := e.store(t, owner, "team note", "project:x")
	if _, err := e.svc.Update(ctx, owner, service.UpdateInput{ID: g.ID, UpdateFields: service.UpdateFields{Scope: ptr("global")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Restore(ctx, other, service.RestoreInput{ID: g.ID}); code(err) != service.CodeConflict {
		t.Fatalf("restore of a live row: %v", err)
	}
	if _, err := e.svc.Forget(ctx, bot, service.ForgetInput{ID: g.ID, Purge: true}); code(err) != service.CodeScopeDenied {
		t.Fatalf("purge by an agent: %v", err)
	}
}

func TestRestoreRoundTrip(t *testing.T) {
	e := newEnv(t)
	orig, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "the staging db is on port 5433", Category: "fact", Importance: ptr(0.6), Metadata: map[string]any{"k": []any{"a"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Forget(ctx, bot, service.ForgetInput{ID: orig.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Restore(ctx, other, service.RestoreInput{ID: orig.ID}); code(err) != service.CodeNotFound {
		t.Fatalf("restore by an agent that cannot read it: %v", err)
	}
	h, err := e.svc.History(ctx, bot, service.HistoryInput{ID: orig.ID})
	if err != nil || !h.Deleted || len(h.Versions) != 1 || h.Versions[0].Change != store.ChangeDelete {
		t.Fatalf("history of a deleted memory: %+v %v", h, err)
	}
	back, err := e.svc.Restore(ctx, bot, service.RestoreInput{ID: orig.ID})
	if err != nil {
		t.Fatal(err)
	}
	if back.Revision != orig.Revision+1 || !reflect.DeepEqual(content(back), content(orig.Memory)) {
		t.Fatalf("restore did not round-trip:\n got %+v\nwant %+v", back, orig)
	}
	res, err := e.svc.Recall(ctx, bot, service.RecallInput{Query: "staging db port"})
	if err != nil || len(res.Results) == 0 || res.Results[0].Memory.ID != orig.ID {
		t.Fatalf("restored memory not recalled: %+v %v", res, err)
	}
	if _, err := e.svc.Restore(ctx, bot, service.RestoreInput{ID: orig.ID}); code(err) != service.CodeConflict {
		t.Fatalf("restore twice: %v", err)
	}
}

func TestPurge(t *testing.T) {
	e := newEnv(t)
	m := e.store(t, bot, "a secret to erase", "")
	if _, err := e.svc.Update(ctx, bot, service.UpdateInput{ID: m.ID, UpdateFields: service.UpdateFields{Text: ptr("a secret to erase, v2")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Forget(ctx, owner, service.ForgetInput{ID: m.ID, Purge: true, ExpectedRevision: 2}); code(err) != service.CodeInvalid {
		t.Fatalf("purge with a revision: %v", err)
	}
	out, err := e.svc.Forget(ctx, owner, service.ForgetInput{ID: m.ID[:8], Purge: true})
	if err != nil || !out.Purged || !out.Deleted || out.Versions != 1 || out.ID != m.ID {
		t.Fatalf("purge: %+v %v", out, err)
	}
	if _, err := e.svc.History(ctx, owner, service.HistoryInput{ID: m.ID}); code(err) != service.CodeNotFound {
		t.Fatalf("history after purge: %v", err)
	}
	if _, err := e.svc.Restore(ctx, owner, service.RestoreInput{ID: m.ID}); code(err) != service.CodeNotFound {
		t.Fatalf("restore after purge: %v", err)
	}
	// A deleted memory can be purged by its full id.
	d := e.store(t, bot, "deleted, then purged", "")
	if _, err := e.svc.Forget(ctx, bot, service.ForgetInput{ID: d.ID}); err != nil {
		t.Fatal(err)
	}
	if out, err := e.svc.Forget(ctx, owner, service.ForgetInput{ID: d.ID, Purge: true}); err != nil || out.Deleted || out.Versions != 1 {
		t.Fatalf("purge of a deleted memory: %+v %v", out, err)
	}
}

func TestTextDiff(t *testing.T) {
	for _, tc := range []struct{ a, b, want string }{
		{"same", "same", ""},
		{"a b c", "a x c", "a [-b-]{+x+} c"},
		{"a b", "a b c", "a b {+c+}"},
		{"one\ntwo", "one\nthree", "one\n[-two-]\n{+three+}"},
	} {
		if got := service.TextDiff(tc.a, tc.b); got != tc.want {
			t.Errorf("TextDiff(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestEveryMutationPathKeepsAVersion: update, revert, forget, delete-bulk
// and upgrade's patch each leave the version they replaced, naming who;
// the CLI, REST and MCP reach these same operations (TestFrontendsAgree).
// A recall's bookkeeping leaves none.
func TestEveryMutationPathKeepsAVersion(t *testing.T) {
	e := newEnv(t)
	versions := func(id string) []service.Version {
		t.Helper()
		h, err := e.svc.History(ctx, owner, service.HistoryInput{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		return h.Versions
	}
	m := e.store(t, bot, "the build uses make", "")
	if _, err := e.svc.Update(ctx, bot, service.UpdateInput{ID: m.ID, UpdateFields: service.UpdateFields{Text: ptr("the build uses bazel")}}); err != nil {
		t.Fatal(err)
	}
	if vs := versions(m.ID); len(vs) != 1 || vs[0].ReplacedBy != "bot" {
		t.Fatalf("update: %+v", vs)
	}
	if _, err := e.svc.Recall(ctx, bot, service.RecallInput{Query: "build"}); err != nil {
		t.Fatal(err)
	}
	if vs := versions(m.ID); len(vs) != 1 {
		t.Fatalf("recall wrote a version: %+v", vs)
	}
	if _, err := e.svc.Revert(ctx, bot, service.RevertInput{ID: m.ID, To: 1}); err != nil {
		t.Fatal(err)
	}
	if vs := versions(m.ID); len(vs) != 2 || vs[0].Revision != 2 {
		t.Fatalf("revert: %+v", vs)
	}
	// upgrade patches the legacy row (no LLM: plain enrichment).
	if _, err := e.svc.Upgrade(ctx, owner, service.UpgradeInput{NoLLM: true}); err != nil {
		t.Fatal(err)
	}
	vs := versions(m.ID)
	if len(vs) != 3 || vs[0].Revision != 3 || vs[0].Format != memory.FormatLegacy || vs[0].ReplacedBy != memory.OwnerName {
		t.Fatalf("upgrade: %+v", vs)
	}
	if _, err := e.svc.Forget(ctx, bot, service.ForgetInput{ID: m.ID}); err != nil {
		t.Fatal(err)
	}
	if vs := versions(m.ID); len(vs) != 4 || vs[0].Change != store.ChangeDelete {
		t.Fatalf("forget: %+v", vs)
	}
	b := e.store(t, owner, "bulk deleted", "project:old")
	if _, err := e.svc.DeleteBulk(ctx, owner, service.DeleteBulkInput{Scopes: []string{"project:old"}}); err != nil {
		t.Fatal(err)
	}
	if vs := versions(b.ID); len(vs) != 1 || vs[0].Change != store.ChangeDelete || vs[0].Text != "bulk deleted" {
		t.Fatalf("delete-bulk: %+v", vs)
	}
}
