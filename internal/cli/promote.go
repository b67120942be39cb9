package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newPromoteCommand(a *app) *cobra.Command {
	var in service.PromoteInput
	cmd := governCommand(a, &in.Target, "promoted", func(ctx context.Context, svc *service.Service) (service.GovernOutput, error) {
		return svc.Promote(ctx, a.caller(), in)
	})
	cmd.Use = "promote [ID] [--query TEXT]"
	cmd.Short = "Confirm a memory: set its state and layer, clear its suppression, bring it back from the archive"
	cmd.Long = "Promote a memory (by id or unique prefix, or the best active match for --query) to state confirmed\n" +
		"(or --state pending) in layer durable (or --layer), as MCP memory_promote and REST POST /v1/memories/{id}/promote do."
	f := cmd.Flags()
	f.StringVar(&in.State, "state", "", "pending or confirmed (default confirmed)")
	f.StringVar(&in.Layer, "layer", "", "durable, working, reflection or archive (default durable)")
	return cmd
}

// governCommand is the shape promote and archive share: a memory by id
// (the argument) or --query/--scope, one service call, its outcome
// printed (did: what a change is called).
func governCommand(a *app, target *service.Target, did string, run func(context.Context, *service.Service) (service.GovernOutput, error)) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				target.ID = args[0]
			}
			svc, err := a.reader(cmd.Context())
			if err != nil {
				return err
			}
			out, err := run(cmd.Context(), svc)
			if err != nil {
				return err
			}
			return printGovern(cmd, out, asJSON, did)
		},
	}
	f := cmd.Flags()
	f.StringVar(&target.Query, "query", "", "find the memory by recall instead of an id")
	f.StringVar(&target.Scope, "scope", "", "with --query: search only this scope")
	f.BoolVar(&asJSON, "json", false, "print the memory as JSON")
	return cmd
}

// printGovern prints what promote or archive did.
func printGovern(cmd *cobra.Command, out service.GovernOutput, asJSON bool, did string) error {
	w := cmd.OutOrStdout()
	if asJSON {
		return writeJSON(w, out)
	}
	if !out.Changed {
		did = "unchanged (already so)"
	}
	md := out.Memory.Metadata
	fmt.Fprintf(w, "%s %s: state %v, layer %v\n", out.Memory.ID, did, orDash(md["state"]), orDash(md["memory_layer"]))
	return nil
}

func orDash(v any) any {
	if v == nil {
		return "-"
	}
	return v
}
