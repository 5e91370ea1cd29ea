package cli_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/cmd/molt/internal/cli"
	"github.com/molt-go/molt/internal/proctest"
	"github.com/molt-go/molt/takeover"
)

// TestTakeoverStatusOfARealTakeover: two test nodes in processes of their
// own, each with the admin and a takeover service; the second takes the
// first's actors over, while the built CLI, in a third process, watches
// the source. Then molt takeover shows the takeover as each side saw it,
// as a table and as JSON; a takeover that ends with an error exits 1, a
// refused credential 4, an unreachable node 3. This test process starts
// no remote, so it runs under the race detector too.
func TestTakeoverStatusOfARealTakeover(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and a test node, and runs them as child processes")
	}
	bin := proctest.Build(t, "github.com/molt-go/molt/cmd/molt")
	nodeBin := proctest.Build(t, "github.com/molt-go/molt/cmd/molt/internal/clitest/takeovernode")
	src := startNodeProcess(t, nodeBin, "-role", "source", "-token", operatorToken)
	srcEnv := []string{"MOLT_NODE=" + src, "MOLT_TOKEN=" + operatorToken}

	r := runBinary(t, bin, srcEnv, "takeover")
	expect(t, r, cli.ExitOK)
	if !strings.Contains(r.stdout, "no takeover has run on "+src) {
		t.Errorf("molt takeover before any takeover printed %q", r.stdout)
	}

	// Watches from before the takeover to its end: the takeover starts
	// once the table's watch has said that none has begun.
	watched, _ := startBinary(t, bin, srcEnv, "takeover", "--watch", "--interval", "20ms", "--timeout", "25s", "-o", "json")
	watchedTable, watching := startBinary(t, bin, srcEnv, "takeover", "status", "-w", "--interval", "20ms", "--timeout", "25s")
	watching.waitFor(t, "no takeover has begun", "molt takeover --watch did not say that no takeover has begun")

	req := proctest.Open(t, wait, nodeBin, "-role", "requester", "-from", src, "-token", operatorToken)
	reqAddr := strings.TrimPrefix(req.Expect("address ", wait), "address ")
	if rep := req.Expect("report ", wait); rep != "report moved 4 failed 0 error -" {
		t.Fatalf("the takeover reported %q, want 4 moved and no error; stderr:\n%s", rep, req.Stderr())
	}
	norm := func(s string) string {
		return strings.NewReplacer(src, "SOURCE", reqAddr, "REQUESTER").Replace(s)
	}

	r = <-watched
	expect(t, r, cli.ExitOK)
	golden(t, "takeover-watch.json", normalJSON(t, norm(r.stdout), "SOURCE"))
	r = <-watchedTable
	expect(t, r, cli.ExitOK)
	table := normalText(norm(r.stdout), "SOURCE")
	t.Logf("molt takeover status --watch:\n%s", table)
	if !strings.Contains(table, "  no takeover has begun\n") {
		t.Errorf("the watch did not show that no takeover had begun when it started:\n%s", table)
	}
	if !strings.Contains(table, "  clitest-takeover source, to REQUESTER: 4 of 4 moved, 0 failed, 0 in flight, <d>, done\n\ntakeover  clitest-takeover\n") {
		t.Errorf("the watch did not end with a line saying the takeover is done, then the status:\n%s", table)
	}

	r = runBinary(t, bin, srcEnv, "takeover", "status")
	expect(t, r, cli.ExitOK)
	golden(t, "takeover-source", normalText(norm(r.stdout), "SOURCE"))
	if !strings.HasSuffix(table, normalText(norm(r.stdout), "SOURCE")) {
		t.Errorf("the watch's last status differs from molt takeover status's:\n%s", table)
	}
	r = runBinary(t, bin, srcEnv, "takeover", "-o", "json")
	expect(t, r, cli.ExitOK)
	golden(t, "takeover-source.json", normalJSON(t, norm(r.stdout), "SOURCE"))

	reqEnv := []string{"MOLT_NODE=" + reqAddr}
	r = runBinary(t, bin, reqEnv, "takeover")
	expect(t, r, cli.ExitOK)
	golden(t, "takeover-requester", normalText(norm(r.stdout), "REQUESTER"))
	r = runBinary(t, bin, reqEnv, "takeover", "status", "-o", "json")
	expect(t, r, cli.ExitOK)
	golden(t, "takeover-requester.json", normalJSON(t, norm(r.stdout), "REQUESTER"))

	// The moved actors run in the requester, at version 2.
	r = runBinary(t, bin, reqEnv, "ls")
	expect(t, r, cli.ExitOK)
	for _, want := range []string{"s-00", "s-01", "s-02", "o-00"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("ls of the requester does not show %s:\n%s", want, r.stdout)
		}
	}

	r = runBinary(t, bin, []string{"MOLT_NODE=" + src, "MOLT_TOKEN=" + wrongToken}, "takeover")
	expect(t, r, cli.ExitRefused, "refused this client's credential")
	r = runBinary(t, bin, nil, "--node", closedPort(t), "takeover", "--timeout", "5s")
	expect(t, r, cli.ExitUnreachable, "is unreachable")

	// A third process takes over from the second, and its takeover is
	// cancelled once Begin is answered: it ends with an error.
	stopped := proctest.Open(t, wait, nodeBin, "-role", "requester", "-from", reqAddr, "-id", "clitest-stopped", "-stop-after-begin")
	stoppedAddr := strings.TrimPrefix(stopped.Expect("address ", wait), "address ")
	if rep := stopped.Expect("report ", wait); !strings.HasPrefix(rep, "report moved 0 failed 0 error ") || strings.HasSuffix(rep, " -") {
		t.Fatalf("the stopped takeover reported %q, want nothing moved and an error", rep)
	}
	r = runBinary(t, bin, nil, "--node", stoppedAddr, "takeover")
	expect(t, r, cli.ExitFailed, "takeover clitest-stopped ended with an error", "stopped before every actor moved")
	golden(t, "takeover-error", normalText(strings.NewReplacer(reqAddr, "SOURCE", stoppedAddr, "REQUESTER").Replace(r.stdout), "REQUESTER"))
	// The second process shows it as its source.
	r = runBinary(t, bin, reqEnv, "takeover", "-o", "json")
	expect(t, r, cli.ExitOK)
	if !strings.Contains(r.stdout, `"takeover_id": "clitest-stopped"`) || !strings.Contains(r.stdout, `"role": "source"`) {
		t.Errorf("the second process does not show the stopped takeover as its source:\n%s", r.stdout)
	}
}

// startBinary runs the built CLI as runBinary does, in the background:
// its result comes on the channel; its stdout is readable meanwhile.
func startBinary(t *testing.T, bin string, env []string, args ...string) (<-chan result, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var out, errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting molt %s: %v", strings.Join(args, " "), err)
	}
	done := make(chan result, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		defer cancel()
		err := cmd.Wait()
		code := 0
		var exit *exec.ExitError
		switch {
		case ctx.Err() != nil:
			code = -1 // killed: it outlived wait
		case errors.As(err, &exit):
			code = exit.ExitCode()
		case err != nil:
			code = -1
		}
		done <- result{stdout: out.String(), stderr: errOut.String(), code: code}
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	return done, &out
}

// A node without a takeover service: exit 1, saying so. With one and no
// takeover yet: a status saying so, and a watch that ends at --timeout,
// exit 3.
func TestTakeoverStatusInProcess(t *testing.T) {
	skipRemoteUnderRace(t)
	tn := startNode(t, molt.RemoteConfig{}, true)
	expect(t, tn.molt(t, "takeover"), cli.ExitFailed, "runs no takeover service")

	svc, err := takeover.Serve(tn.Node.Node, nil)
	must(t, err)
	t.Cleanup(svc.Stop)
	r := tn.molt(t, "takeover", "status")
	expect(t, r, cli.ExitOK)
	golden(t, "takeover-none", normalText(r.stdout, tn.addr))
	r = tn.molt(t, "takeover", "-o", "json")
	expect(t, r, cli.ExitOK)
	golden(t, "takeover-none.json", normalJSON(t, r.stdout, tn.addr))
	r = tn.molt(t, "takeover", "--watch", "--interval", "20ms", "--timeout", "200ms")
	expect(t, r, cli.ExitUnreachable, "no takeover began on "+tn.addr+" within 200ms (--timeout)")
}
