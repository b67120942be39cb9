package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/store"
)

func newUpdateCommand(a *app) *cobra.Command {
	var text, category, importance, metadata, scope string
	var expected int64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "update ID",
		Short: "Change a memory in one transaction (a new text is re-embedded first)",
		Long: "Change a memory's fields. Only the fields given change; they are applied to the row as it is\n" +
			"when the write happens, so concurrent changes to other fields are kept. --metadata is merged\n" +
			"into the existing metadata (a key set to null is removed). --expected-revision refuses the\n" +
			"update if the memory changed since you read it.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			f := cmd.Flags()
			if !f.Changed("text") && !f.Changed("category") && !f.Changed("importance") && !f.Changed("metadata") && !f.Changed("scope") {
				return usagef("nothing to update: give --text, --category, --importance, --metadata or --scope")
			}
			var p memory.Memory // the requested values, validated up front
			var mdPatch map[string]any
			var err error
			if f.Changed("text") {
				if err := memory.ValidateText(text); err != nil {
					return fmt.Errorf("--text: %w", err)
				}
			}
			if f.Changed("category") {
				if p.Category, err = memory.ParseCategory(category); err != nil {
					return fmt.Errorf("--category: %w", err)
				}
			}
			if f.Changed("scope") {
				if p.Scope, err = memory.ParseScope(scope); err != nil {
					return fmt.Errorf("--scope: %w", err)
				}
			}
			if f.Changed("importance") {
				if p.Importance, err = parseImportance(importance); err != nil {
					return err
				}
			}
			if f.Changed("metadata") {
				if mdPatch, err = parseMetadata(metadata); err != nil {
					return err
				}
			}
			st, err := a.store(ctx)
			if err != nil {
				return err
			}
			id, err := st.Resolve(ctx, a.access(), args[0])
			if err != nil {
				return err
			}
			var vec []float32
			if f.Changed("text") {
				if vec, err = a.embedOne(ctx, text); err != nil { // before the lock
					return err
				}
			}
			res, err := store.PatchMany(ctx, st, a.access(), []store.Patch{{ID: id, ExpectedRevision: expected, Apply: func(m *memory.Memory) error {
				if f.Changed("text") {
					memory.ChangeText(m, text, vec)
				}
				if f.Changed("category") {
					m.Category = p.Category
				}
				if f.Changed("scope") {
					m.Scope = p.Scope
				}
				if f.Changed("importance") {
					m.Importance = p.Importance
				}
				if mdPatch != nil {
					m.Metadata = service.MergeMetadata(m.Metadata, mdPatch)
				}
				return nil
			}}})
			if err != nil {
				return err
			}
			if res[0].Err != nil {
				return res[0].Err
			}
			out, err := st.Get(ctx, a.access(), id)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), memoryJSON(out))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s revision %d\n", out.ID, out.Revision)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&text, "text", "", "new text (re-embedded)")
	fl.StringVar(&category, "category", "", "new category")
	fl.StringVar(&scope, "scope", "", "move to this scope")
	fl.StringVar(&importance, "importance", "", "new importance, 0 to 1")
	fl.StringVar(&metadata, "metadata", "", "JSON object merged into the metadata (null removes a key)")
	fl.Int64Var(&expected, "expected-revision", 0, "fail with a conflict unless the memory is at this revision")
	fl.BoolVar(&asJSON, "json", false, "print the updated memory as JSON")
	return cmd
}
