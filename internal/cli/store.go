package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

func newStoreCommand(a *app) *cobra.Command {
	var category, scope, importance, metadata, id string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "store TEXT",
		Short: "Store a memory and print its id",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m := memory.Memory{ID: id, Text: args[0], Category: memory.CategoryOther, Scope: memory.GlobalScope, Importance: 0.7}
			if category != "" {
				c, err := memory.ParseCategory(category)
				if err != nil {
					return fmt.Errorf("--category: %w", err)
				}
				m.Category = c
			}
			if scope != "" {
				s, err := memory.ParseScope(scope)
				if err != nil {
					return fmt.Errorf("--scope: %w", err)
				}
				m.Scope = s
			}
			if cmd.Flags().Changed("importance") {
				f, err := parseImportance(importance)
				if err != nil {
					return err
				}
				m.Importance = f
			}
			if metadata != "" {
				md, err := parseMetadata(metadata)
				if err != nil {
					return err
				}
				m.Metadata = md
			}
			// The memory is complete and valid before we spend an embedding call.
			if err := m.Validate(); err != nil {
				return err
			}
			if !a.access().Allows(m.Scope) {
				return &memory.ScopeDeniedError{Scope: m.Scope}
			}
			v, err := a.embedOne(cmd.Context(), m.Text)
			if err != nil {
				return err
			}
			m.Vector = v
			st, err := a.store(cmd.Context())
			if err != nil {
				return err
			}
			if err := st.Write(cmd.Context(), a.access(), func(tx store.Tx) error { return tx.Insert(&m) }); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), memoryJSON(m))
			}
			fmt.Fprintln(cmd.OutOrStdout(), m.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&category, "category", "", "preference, fact, decision, entity, reflection or other (default other)")
	f.StringVar(&scope, "scope", "", "global, agent:<id>, user:<id>, project:<id> or custom:<name> (default global)")
	f.StringVar(&importance, "importance", "0.7", "0 to 1")
	f.StringVar(&metadata, "metadata", "", "JSON object of extra fields")
	f.StringVar(&id, "id", "", "use this id instead of a new UUID")
	f.BoolVar(&asJSON, "json", false, "print the stored memory as JSON")
	return cmd
}
