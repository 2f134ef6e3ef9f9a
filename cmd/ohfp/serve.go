package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ohfp/ohfp/internal/logging"
	"github.com/ohfp/ohfp/internal/server"
)

func serveCommand() *cobra.Command {
	var (
		addr, tokenFile string
		cert            server.TLS
		noToken         bool
		allowHosts      []string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a REST API, Prometheus metrics, health checks and a dashboard for the provider instance",
		Long: `Serve the provider instance the HF_* environment names over HTTP:
the five HostFactory operations and listings under /api/v1 (see /openapi.json),
Prometheus metrics at /metrics, /healthz, /readyz, and a dashboard at /.

It listens on 127.0.0.1:8080 by default. On any other address a bearer token
is required: --token-file, or the OHFP_SERVE_TOKEN environment variable.
Without one, on loopback, the routes that change something need a token the
server makes and keeps in serve.token in the work folder (--no-token turns
that off). Requests must name localhost, 127.0.0.1, [::1] or a name given
with --allow-host in their Host header; a browser request from another origin
and a request that changes something without a JSON body are refused.
The server's own diagnostics go to standard error; the operations it carries
out are logged to the provider's log file, as the scripts' are.`,
		Example: `  HF_PROVIDER_NAME=awsinst HF_PROVIDER_CONFDIR=/opt/ohfp/awsinst/conf HF_PROVIDER_WORKDIR=/opt/ohfp/awsinst/work HF_PROVIDER_LOGDIR=/opt/ohfp/awsinst/log ohfp serve
  OHFP_SERVE_TOKEN=s3cret ohfp serve --addr 0.0.0.0:8443 --allow-host hf-master.example.com --tls-cert cert.pem --tls-key key.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			token, err := server.LoadToken(tokenFile, os.Getenv)
			if err != nil {
				return err
			}
			log := logging.NewJSON(os.Stderr, os.Getenv("HF_LOG_LEVEL"))
			srv, err := server.New(server.Options{Env: os.Getenv, Token: token, NoToken: noToken, AllowHosts: allowHosts, Log: log})
			if err != nil {
				return err
			}
			defer srv.Close()
			return srv.ListenAndServe(cmd.Context(), addr, cert, func(url string) {
				fmt.Fprintf(cmd.OutOrStdout(), "serving on %s\n", url)
				if f := srv.TokenFile(); f != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "requests that change something need the bearer token in %s\n", f)
				}
			})
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "file holding the bearer token (else $"+server.TokenEnv+")")
	cmd.Flags().BoolVar(&noToken, "no-token", false, "let requests that change something through without a token (loopback only)")
	cmd.Flags().StringSliceVar(&allowHosts, "allow-host", nil, "a host name clients use besides localhost, 127.0.0.1 and [::1] (repeatable)")
	cmd.Flags().StringVar(&cert.CertFile, "tls-cert", "", "TLS certificate file (PEM)")
	cmd.Flags().StringVar(&cert.KeyFile, "tls-key", "", "TLS private key file (PEM)")
	return cmd
}
