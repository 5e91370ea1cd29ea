package cli_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/cmd/molt/internal/cli"
	"github.com/molt-go/molt/internal/proctest"
	"github.com/molt-go/molt/internal/remotetest"
)

// The CLI as operators run it: built with go build, in a process of its
// own, against a test node in another. This test process starts no
// remote at all, so the test runs under the race detector too (protoactor
// races in a process whose remote sees a peer go, as the CLI does when it
// exits).
func TestBuiltCLIAgainstANode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and a test node, and runs them as child processes")
	}
	bin := proctest.Build(t, "github.com/molt-go/molt/cmd/molt")
	addr := startNodeProcess(t, proctest.Build(t, "github.com/molt-go/molt/cmd/molt/internal/clitest/testnode"), "-token", operatorToken)
	env := []string{"MOLT_NODE=" + addr, "MOLT_TOKEN=" + operatorToken}

	r := runBinary(t, bin, env, "ls", "--kind", "svc")
	expect(t, r, cli.ExitOK)
	golden(t, "process-ls", normalText(r.stdout, addr))

	r = runBinary(t, bin, env, "update", "s-00", "--to", "2", "--id", "from-a-process")
	expect(t, r, cli.ExitOK)
	r = runBinary(t, bin, env, "ls", "--kind", "svc", "--label", "region=eu", "-o", "json")
	expect(t, r, cli.ExitOK)
	if !strings.Contains(r.stdout, `"update_id": "from-a-process"`) || !strings.Contains(r.stdout, `"version": 2`) {
		t.Errorf("ls after the update does not show s-00 at version 2:\n%s", r.stdout)
	}
	r = runBinary(t, bin, env, "update", "s-00", "--to", "9")
	expect(t, r, cli.ExitFailed, "rejected 2→9 in initialization")

	r = runBinary(t, bin, env, "ls", "--token", wrongToken)
	expect(t, r, cli.ExitRefused, "refused this client's credential")

	r = runBinary(t, bin, nil, "--node", closedPort(t), "ls", "--timeout", "5s")
	expect(t, r, cli.ExitUnreachable, "is unreachable")
}

// startNodeProcess runs the test node binary and returns its address.
// It stops when the test ends: its standard input closes, and it is
// killed if it has not exited within wait.
func startNodeProcess(t *testing.T, bin string, args ...string) string {
	t.Helper()
	p, line := proctest.Start(t, wait, bin, args...)
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "address ")
	if !ok {
		t.Fatalf("the test node printed %q, not its address; stderr: %s", line, p.Stderr())
	}
	return addr
}

// runBinary runs the built CLI with args and only env (and PATH, HOME
// left out: the CLI needs neither), killed if it outlives wait.
func runBinary(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("molt %s did not exit within %v; stderr: %s", strings.Join(args, " "), wait, errOut.String())
	}
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running molt %s: %v", strings.Join(args, " "), err)
	}
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// Mutual TLS: the node trusts the CLI's certificate and the CLI the
// node's; the node dials the CLI back with TLS to answer. A certificate
// the node does not trust is refused, exit 4.
func TestMutualTLS(t *testing.T) {
	skipRemoteUnderRace(t)
	node, err := remotetest.NewCert("node")
	must(t, err)
	client, err := remotetest.NewCert("operator")
	must(t, err)
	stranger, err := remotetest.NewCert("stranger")
	must(t, err)
	tn := startNode(t, molt.RemoteConfig{TLS: node.Server(true, client), DialTLS: node.Client(client)}, true)
	dir := t.TempDir()
	ca := writePEM(t, dir, "node", node)
	cert := writePEM(t, dir, "operator", client)
	r := tn.molt(t, "ls", "--kind", "oneway", "--ca", ca, "--cert", cert, "--key", cert+".key")
	expect(t, r, cli.ExitOK)
	if !strings.Contains(r.stdout, "o-00") {
		t.Errorf("ls over mutual TLS printed %q", r.stdout)
	}
	bad := writePEM(t, dir, "stranger", stranger)
	r = tn.molt(t, "ls", "--ca", ca, "--cert", bad, "--key", bad+".key", "--timeout", "5s")
	expect(t, r, cli.ExitRefused, "TLS with "+tn.addr+" failed")
	expect(t, tn.molt(t, "ls", "--timeout", "5s"), cli.ExitRefused, "require TLS")
}

// writePEM writes c's certificate to dir/name.pem and its key to
// dir/name.pem.key, and returns the certificate's path.
func writePEM(t *testing.T, dir, name string, c *remotetest.Cert) string {
	t.Helper()
	path := filepath.Join(dir, name+".pem")
	must(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.TLS.Certificate[0]}), 0o600))
	key, err := x509.MarshalPKCS8PrivateKey(c.TLS.PrivateKey)
	must(t, err)
	must(t, os.WriteFile(path+".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600))
	return path
}
