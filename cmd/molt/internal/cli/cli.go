// Package cli is molt's command line: every command, its flags and its
// output, driven by Run so that tests run the CLI in process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Exit codes. They are part of the CLI's interface: scripts tell a node
// that said no from a node they could not talk to.
const (
	// ExitOK: the command did what it was asked.
	ExitOK = 0
	// ExitFailed: the node answered, and the answer is a failure: a
	// refused request, an update rejected or aborted, a package that did
	// not complete.
	ExitFailed = 1
	// ExitUsage: the command line is wrong (a flag, an argument, a file).
	ExitUsage = 2
	// ExitUnreachable: no answer: the node is unreachable, or did not
	// answer within --timeout.
	ExitUnreachable = 3
	// ExitRefused: the node refused this client: its credential (token,
	// certificate, TLS) or, by its access control, the request itself.
	ExitRefused = 4
	// ExitInterrupted: interrupted (Ctrl-C) before the command ended.
	ExitInterrupted = 130
)

// DefaultNode is the admin's address when neither --node nor MOLT_NODE
// says otherwise: loopback, on the port docs/operating.md's examples give
// a node's remote.
const DefaultNode = "127.0.0.1:8090"

// DefaultTimeout bounds the connection to the node and each request's
// answer.
const DefaultTimeout = 10 * time.Second

// exitError ends a command with a code and a one-line reason for stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func fail(code int, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...)}
}

// options are the flags every command takes, and where the command
// writes.
type options struct {
	node, token    string
	ca, cert, key  string
	listen         string
	output         string
	timeout        time.Duration
	stdout, stderr io.Writer
	tty            bool // stdout is a terminal: progress bars
	env            func(string) string
	interrupt      context.Context
}

// Run runs the molt command line args (without the program's name),
// writing to stdout and stderr and reading the environment through env,
// and returns the process's exit code. It returns once every connection
// it made is closed.
func Run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	if env == nil {
		env = func(string) string { return "" }
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := &options{stdout: stdout, stderr: stderr, env: env, interrupt: ctx}
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		o.tty = true
	}
	root := o.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	var e *exitError
	if errors.As(err, &e) {
		fmt.Fprintln(stderr, "molt: "+oneLine(e.msg))
		return e.code
	}
	// Anything else comes from cobra: an unknown command or flag, a
	// wrong number of arguments.
	fmt.Fprintf(stderr, "molt: %s (see molt --help)\n", oneLine(err.Error()))
	return ExitUsage
}

// oneLine keeps a reason on the one line scripts and logs expect.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func (o *options) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "molt",
		Short: "Operate a molt node: list, describe and update live actors, apply update packages, follow takeovers",
		Long: `molt talks to a molt node's admin service (the actor "molt-admin") over
protoactor remote: it starts a small actor system of its own, listening on
loopback for the node's answers, and stops it before it exits.

Exit codes: 0 success; 1 the node answered with a failure (a refused
request, an update rejected or aborted, a package that did not complete);
2 a wrong command line; 3 the node is unreachable or did not answer in
time; 4 the node refused this client's credential or request; 130
interrupted.`,
		Example: `  molt ls --node 127.0.0.1:8090
  MOLT_NODE=10.0.0.7:8090 MOLT_TOKEN=... molt ls --ca ca.pem --cert me.pem --key me-key.pem
  molt update counter --to 2
  molt apply package.yaml --dry-run
  molt takeover --watch`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return o.resolve(cmd)
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
	f := root.PersistentFlags()
	f.StringVar(&o.node, "node", DefaultNode, "the node's remote address, host:port (env MOLT_NODE)")
	f.StringVar(&o.token, "token", "", "the bearer token to present to the node (env MOLT_TOKEN, which keeps it out of the process list)")
	f.StringVar(&o.ca, "ca", "", "PEM file of the CA that signed the node's certificate: connect with TLS (env MOLT_CA)")
	f.StringVar(&o.cert, "cert", "", "PEM file of this client's certificate, for mutual TLS; it also serves the node's answers over TLS (env MOLT_CERT)")
	f.StringVar(&o.key, "key", "", "PEM file of --cert's private key (env MOLT_KEY)")
	f.StringVar(&o.listen, "listen", "127.0.0.1:0", "where this client listens for the node's answers, host:port; the node must reach it")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	f.DurationVar(&o.timeout, "timeout", DefaultTimeout, "bound on connecting to the node and on each answer")
	root.AddCommand(o.lsCommand(), o.describeCommand(), o.updateCommand(), o.applyCommand(),
		o.watchCommand(), o.rollbackCommand(), o.cancelCommand(), o.benchCommand(), o.takeoverCommand())
	return root
}

// resolve fills what flags left unset from the environment and checks
// the flags every command shares.
func (o *options) resolve(cmd *cobra.Command) error {
	f := cmd.Flags()
	fromEnv := func(name string, v *string, env string) {
		if !f.Changed(name) {
			if e := o.env(env); e != "" {
				*v = e
			}
		}
	}
	fromEnv("node", &o.node, "MOLT_NODE")
	fromEnv("token", &o.token, "MOLT_TOKEN")
	fromEnv("ca", &o.ca, "MOLT_CA")
	fromEnv("cert", &o.cert, "MOLT_CERT")
	fromEnv("key", &o.key, "MOLT_KEY")
	switch o.output {
	case "table", "json":
	default:
		return fail(ExitUsage, "--output is %q: table or json", o.output)
	}
	if o.timeout <= 0 {
		return fail(ExitUsage, "--timeout is %v: it must be positive", o.timeout)
	}
	if _, _, err := splitHostPort(o.node); err != nil {
		return fail(ExitUsage, "--node %q: %v", o.node, err)
	}
	if (o.cert == "") != (o.key == "") {
		return fail(ExitUsage, "--cert and --key go together")
	}
	return nil
}

func (o *options) json() bool { return o.output == "json" }
