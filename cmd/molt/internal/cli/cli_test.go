package cli_test

import (
	"net"
	"strconv"
	"strings"
	"testing"

	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/admin"
	"github.com/molt-go/molt/cmd/molt/internal/cli"
	"github.com/molt-go/molt/update/manager"
)

func TestLs(t *testing.T) {
	skipRemoteUnderRace(t)
	tn := startNode(t, molt.RemoteConfig{}, true)
	r := tn.molt(t, "update", "s-01", "--to", "2", "--id", "before-ls")
	expect(t, r, cli.ExitOK)

	r = tn.molt(t, "ls")
	expect(t, r, cli.ExitOK)
	golden(t, "ls", normalText(r.stdout, tn.addr))

	r = tn.molt(t, "ls", "--kind", "svc", "--label", "region=eu", "-o", "json")
	expect(t, r, cli.ExitOK)
	golden(t, "ls-eu.json", normalJSON(t, r.stdout, tn.addr))

	r = tn.molt(t, "ls", "--kind", "nosuchkind")
	expect(t, r, cli.ExitOK)
	if !strings.Contains(r.stdout, "no live actors match") {
		t.Errorf("ls of a kind with no actors printed %q", r.stdout)
	}
	expect(t, tn.molt(t, "ls", "--label", "region"), cli.ExitUsage, "key=value")
}

func TestDescribe(t *testing.T) {
	skipRemoteUnderRace(t)
	tn := startNode(t, molt.RemoteConfig{}, true)
	r := tn.molt(t, "describe", "svc")
	expect(t, r, cli.ExitOK)
	golden(t, "describe", normalText(r.stdout, tn.addr))
	r = tn.molt(t, "describe", "svc", "-o", "json")
	expect(t, r, cli.ExitOK)
	golden(t, "describe.json", normalJSON(t, r.stdout, tn.addr))

	expect(t, tn.molt(t, "describe", "nosuchkind"), cli.ExitFailed, "DescribeKind refused", "nosuchkind")
	expect(t, tn.molt(t, "describe"), cli.ExitUsage)
}

func TestUpdate(t *testing.T) {
	skipRemoteUnderRace(t)
	tn := startNode(t, molt.RemoteConfig{}, true)

	r := tn.molt(t, "update", "s-00", "--to", "2", "--id", "commit", "--deadline", "1s", "--in-order")
	expect(t, r, cli.ExitOK)
	golden(t, "update-commit", normalText(r.stdout, tn.addr))
	if v := tn.versionOf(t, "s-00"); v != 2 {
		t.Errorf("s-00 runs %d after a committed update to 2", v)
	}

	// By PID, as ls prints it.
	r = tn.molt(t, "update", tn.addr+"/s-00", "--to", "1", "--id", "by-pid", "-o", "json")
	expect(t, r, cli.ExitOK)
	golden(t, "update-pid.json", normalJSON(t, r.stdout, tn.addr))

	// An abort: the migration to 3 fails in state transfer.
	r = tn.molt(t, "update", "s-01", "--to", "3", "--id", "abort")
	expect(t, r, cli.ExitFailed, "update abort: s-01: aborted 1→3 in state transfer", "version 3 refuses this state")
	golden(t, "update-abort", normalText(r.stdout, tn.addr))
	if v := tn.versionOf(t, "s-01"); v != 1 {
		t.Errorf("s-01 runs %d after an aborted update", v)
	}

	// A rejection: no version 9.
	r = tn.molt(t, "update", "s-02", "--to", "9", "--id", "reject", "-o", "json")
	expect(t, r, cli.ExitFailed, "update reject: s-02: rejected 1→9 in initialization")
	golden(t, "update-reject.json", normalJSON(t, r.stdout, tn.addr))

	// The admin refuses an actor that is not live.
	expect(t, tn.molt(t, "update", "nobody", "--to", "2"), cli.ExitFailed, "UpdateActors refused")

	// A staged selection: all or nothing.
	r = tn.molt(t, "update", "--kind", "svc", "--label", "region=eu", "--to", "2", "--stage", "--id", "staged")
	expect(t, r, cli.ExitOK)
	golden(t, "update-staged", normalText(r.stdout, tn.addr))
	for _, n := range []string{"s-00", "s-01"} {
		if v := tn.versionOf(t, n); v != 2 {
			t.Errorf("%s runs %d after the staged update", n, v)
		}
	}
}

func TestApply(t *testing.T) {
	skipRemoteUnderRace(t)
	tn := startNode(t, molt.RemoteConfig{}, true)

	r := tn.molt(t, "apply", "testdata/up.yaml", "--dry-run")
	expect(t, r, cli.ExitOK)
	golden(t, "apply-dry-run", normalText(r.stdout, tn.addr))
	if v := tn.versionOf(t, "s-00"); v != 1 {
		t.Fatalf("a dry run moved s-00 to %d", v)
	}

	r = tn.molt(t, "apply", "testdata/up.yaml")
	expect(t, r, cli.ExitOK)
	golden(t, "apply", normalText(r.stdout, tn.addr))
	for _, n := range []string{"s-00", "s-01"} {
		if v := tn.versionOf(t, n); v != 2 {
			t.Errorf("%s runs %d after package up", n, v)
		}
	}

	r = tn.molt(t, "rollback", "--dry-run", "-o", "json")
	expect(t, r, cli.ExitOK)
	golden(t, "rollback-dry-run.json", normalJSON(t, r.stdout, tn.addr))

	r = tn.molt(t, "rollback", "-o", "json")
	expect(t, r, cli.ExitOK)
	golden(t, "rollback.json", normalJSON(t, r.stdout, tn.addr))
	for _, n := range []string{"s-00", "s-01"} {
		if v := tn.versionOf(t, n); v != 1 {
			t.Errorf("%s runs %d after the rollback", n, v)
		}
	}

	// A package whose first update aborts halts: exit 1, and the summary
	// says what failed.
	r = tn.molt(t, "apply", "testdata/broken.yaml")
	expect(t, r, cli.ExitFailed, "package broken halted", "1 failed")
	golden(t, "apply-broken", normalText(r.stdout, tn.addr))

	expect(t, tn.molt(t, "apply", "testdata/invalid.yaml"), cli.ExitFailed, "RunPackage refused", "nosuchkind")
	expect(t, tn.molt(t, "apply", "testdata/no-such-file.yaml"), cli.ExitUsage, "no-such-file.yaml")
}

func TestWatch(t *testing.T) {
	skipRemoteUnderRace(t)
	tn := startNode(t, molt.RemoteConfig{}, true)

	var out, errOut syncBuffer
	done := make(chan result, 1)
	go func() {
		done <- runCLIWith(t, nil, &out, &errOut, "--node", tn.addr, "watch", "--package", "up", "--count", "7", "--for", wait.String())
	}()
	errOut.waitFor(t, "watching", "molt watch did not say it was subscribed")
	acc, ok := tn.ask(t, &admin.RunPackage{Format: "yaml", Document: readFile(t, "testdata/up.yaml")}).(*manager.PackageAccepted)
	if !ok {
		t.Fatal("the admin did not accept package up")
	}
	r := <-done
	expect(t, r, cli.ExitOK)
	golden(t, "watch", normalText(r.stdout, tn.addr))
	if !strings.Contains(r.stdout, "package "+acc.GetPackageId()+" done") {
		t.Errorf("watch did not print the end of package %s: %s", acc.GetPackageId(), r.stdout)
	}

	// JSON, the next package's first events; and --for ends a quiet
	// watch with success.
	var out2, errOut2 syncBuffer
	go func() {
		done <- runCLIWith(t, nil, &out2, &errOut2, "--node", tn.addr, "watch", "-o", "json", "--count", "2", "--for", wait.String())
	}()
	errOut2.waitFor(t, "watching", "molt watch -o json did not say it was subscribed")
	tn.ask(t, &admin.RollBackLast{})
	r = <-done
	expect(t, r, cli.ExitOK)
	golden(t, "watch.json", normalJSON(t, r.stdout, tn.addr))

	r = tn.molt(t, "watch", "--for", "50ms")
	expect(t, r, cli.ExitOK)
	if r.stdout != "" {
		t.Errorf("a watch with no event printed %q", r.stdout)
	}
}

func TestCancel(t *testing.T) {
	skipRemoteUnderRace(t)
	tn := startNode(t, molt.RemoteConfig{}, true)
	if _, ok := tn.ask(t, &admin.RunPackage{Format: "yaml", Document: readFile(t, "testdata/slow.yaml")}).(*manager.PackageAccepted); !ok {
		t.Fatal("the admin did not accept package slow")
	}
	r := tn.molt(t, "cancel", "slow")
	expect(t, r, cli.ExitOK)
	golden(t, "cancel", normalText(r.stdout, tn.addr))
	expect(t, tn.molt(t, "cancel", "nothing-runs", "-o", "json"), cli.ExitFailed, `no package "nothing-runs" is running`)
	expect(t, tn.molt(t, "cancel"), cli.ExitUsage, "name the package")
}

func TestBench(t *testing.T) {
	skipRemoteUnderRace(t)
	tn := startNode(t, molt.RemoteConfig{}, true)
	r := tn.molt(t, "bench", "s-00", "--count", "5")
	expect(t, r, cli.ExitOK)
	golden(t, "bench", normalText(r.stdout, tn.addr))
	if v := tn.versionOf(t, "s-00"); v != 1 {
		t.Errorf("s-00 runs %d after bench, want 1, where it started", v)
	}
	r = tn.molt(t, "bench", "s-00", "--count", "2", "-o", "json")
	expect(t, r, cli.ExitOK)
	golden(t, "bench.json", normalJSON(t, r.stdout, tn.addr))

	expect(t, tn.molt(t, "bench", "o-00", "--count", "2"), cli.ExitFailed, "o-00 (kind oneway) runs version 1", "there and back")
	expect(t, tn.molt(t, "bench", "nobody", "--count", "2"), cli.ExitFailed, `no live actor named "nobody"`)
	expect(t, tn.molt(t, "bench", "s-00", "--count", "0"), cli.ExitUsage, "--count")
}

// A port nothing listens on: the CLI says the node is unreachable, and
// exits 3, promptly.
func TestUnreachableNode(t *testing.T) {
	skipRemoteUnderRace(t)
	addr := closedPort(t)
	r := runCLI(t, nil, "--node", addr, "ls")
	expect(t, r, cli.ExitUnreachable, addr+" is unreachable", "connection refused")
}

// A node that runs no admin service.
func TestNoAdmin(t *testing.T) {
	skipRemoteUnderRace(t)
	tn := startNode(t, molt.RemoteConfig{}, false)
	expect(t, tn.molt(t, "ls"), cli.ExitFailed, "the node runs no admin service")
}

const (
	operatorToken = "operator-token-0123456789abcdef0123456789"
	wrongToken    = "someone-else-0123456789abcdef0123456789ab"
)

// A node with a token refuses a CLI with another: exit 4, saying so; the
// right token, from MOLT_TOKEN, gets in.
func TestRefusedCredential(t *testing.T) {
	skipRemoteUnderRace(t)
	tn := startNode(t, molt.RemoteConfig{Tokens: map[string]string{"operator": operatorToken}}, true)
	r := tn.molt(t, "ls", "--token", wrongToken)
	expect(t, r, cli.ExitRefused, "refused this client's credential", "not one of this node's")
	r = runCLI(t, nil, "--node", tn.addr, "ls")
	expect(t, r, cli.ExitRefused, "no bearer token was presented")
	r = runCLI(t, map[string]string{"MOLT_TOKEN": operatorToken, "MOLT_NODE": tn.addr}, "ls", "--kind", "oneway")
	expect(t, r, cli.ExitOK)
	if !strings.Contains(r.stdout, "o-00") {
		t.Errorf("ls with the right token printed %q", r.stdout)
	}
}

// A node whose access control admits the CLI but does not allow it to
// change anything: the admin's refusal is exit 4 too.
func TestDisallowedRequest(t *testing.T) {
	skipRemoteUnderRace(t)
	tn := startNode(t, molt.RemoteConfig{Allow: func(molt.Origin) error { return errNotOperator }}, true)
	expect(t, tn.molt(t, "update", "s-00", "--to", "2"), cli.ExitRefused, "UpdateActors refused", "not the operator")
}

// Command-line mistakes are exit 2 and never reach a node.
func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ls", "--output", "yaml"}, "table or json"},
		{[]string{"update", "s-00"}, "--to"},
		{[]string{"update", "--to", "2"}, "name the actor"},
		{[]string{"bogus"}, "unknown command"},
		{[]string{"ls", "--no-such-flag"}, "unknown flag"},
		{[]string{"ls", "--node", "nowhere"}, "--node"},
		{[]string{"ls", "--cert", "a.pem"}, "--cert and --key"},
		{[]string{"ls", "--timeout", "0s"}, "--timeout"},
		{[]string{"takeover", "--interval", "0s"}, "--interval"},
		{[]string{"takeover", "bogus"}, "unknown command"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			expect(t, runCLI(t, nil, c.args...), cli.ExitUsage, c.want)
		})
	}
	r := runCLI(t, nil, "update", "--help")
	expect(t, r, cli.ExitOK)
	if !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "--stage") {
		t.Errorf("update --help does not show examples and flags:\n%s", r.stdout)
	}
}

// Every command has help with examples.
func TestHelpHasExamples(t *testing.T) {
	for _, cmd := range []string{"ls", "describe", "update", "apply", "watch", "rollback", "cancel", "bench", "takeover", "takeover status"} {
		r := runCLI(t, nil, append(strings.Fields(cmd), "--help")...)
		expect(t, r, cli.ExitOK)
		if !strings.Contains(r.stdout, "Examples:\n  molt "+cmd) || !strings.Contains(r.stdout, "--node") {
			t.Errorf("molt %s --help has no example of itself, or no --node:\n%s", cmd, r.stdout)
		}
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	must(t, l.Close())
	return "127.0.0.1:" + strconv.Itoa(port)
}
