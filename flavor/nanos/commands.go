package nanos

import (
	"fmt"
	"net/http"
	"os"

	"github.com/spf13/cobra"

	"github.com/ukdev/ukdev/flavor/nanos/ops"
)

// Commands implements flavor.Commander: `ukdev kernel`, which manages the
// Nanos kernels in ops' kernel cache.
func (Flavor) Commands() []*cobra.Command {
	return []*cobra.Command{kernelCommand()}
}

// kernelCommand is `ukdev kernel` with its fetch and list subcommands.
func kernelCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kernel",
		Short: "Manage the Nanos kernels in ops' kernel cache",
	}
	var baseURL string
	fetch := &cobra.Command{
		Use:   "fetch [version]",
		Short: "Download a Nanos release into ops' kernel cache (the only command that uses the network)",
		Long: `fetch downloads nanos-release-linux-<version>.tar.gz (the latest release when no
version is given) into ops' kernel cache ($OPS_HOME/.ops or ~/.ops), in the layout ops
itself uses, so ukdev and ops share it. ukdev never downloads anything otherwise.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			version := ""
			if len(args) == 1 {
				version = args[0]
			}
			home, err := ops.Home()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(home, 0o755); err != nil {
				return err
			}
			k, err := ops.Fetch(cmd.Context(), http.DefaultClient, baseURL, version, home)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Nanos %s: %s\n", k.Version, k.Kernel)
			return err
		},
	}
	fetch.Flags().StringVar(&baseURL, "from", ops.DefaultBaseURL, "base URL of the Nanos releases")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the Nanos versions in ops' kernel cache",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := ops.Home()
			if err != nil {
				return err
			}
			versions, err := ops.Cache{Home: home}.Versions()
			if err != nil {
				return err
			}
			if len(versions) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "no Nanos kernel in %s (ukdev kernel fetch, or ops update)\n", home)
			}
			for _, v := range versions {
				fmt.Fprintln(cmd.OutOrStdout(), v)
			}
			return nil
		},
	}
	cmd.AddCommand(fetch, list)
	return cmd
}
