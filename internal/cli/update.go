package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
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
			f := cmd.Flags()
			in := service.UpdateInput{ID: args[0]}
			in.ExpectedRevision = expected
			if f.Changed("text") {
				in.Text = &text
			}
			if f.Changed("category") {
				in.Category = &category
			}
			if f.Changed("scope") {
				in.Scope = &scope
			}
			if f.Changed("importance") {
				v, err := parseImportance(importance)
				if err != nil {
					return err
				}
				in.Importance = &v
			}
			if f.Changed("metadata") {
				md, err := parseMetadata(metadata)
				if err != nil {
					return err
				}
				in.Metadata = md
			}
			svc, err := a.reader(cmd.Context())
			if err != nil {
				return err
			}
			m, err := svc.Update(cmd.Context(), a.caller(), in)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), m)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s revision %d\n", m.ID, m.Revision)
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
