package cli_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/cmd/molt/internal/cli"
	"github.com/molt-go/molt/cmd/molt/internal/clitest"
	"google.golang.org/protobuf/proto"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden with what the commands print now")

// wait bounds every wait on the node or the CLI: far above a loopback
// round trip, short enough for a failing test to say what did not happen.
const wait = 30 * time.Second

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// testNode is clitest's node (svc s-00, s-01 in region eu, s-02 in us,
// oneway o-00), in this process.
type testNode struct {
	*clitest.Node
	addr string
}

func skipRemoteUnderRace(t *testing.T) {
	t.Helper()
	if remoteRace {
		t.Skip("the CLI in process starts a second protoactor remote, which races inside protoactor (grpclog.SetLoggerV2 in remote.Start); run without -race")
	}
}

func startNode(t *testing.T, rc molt.RemoteConfig, withAdmin bool) *testNode {
	t.Helper()
	n, err := clitest.Start(rc, withAdmin)
	if err != nil {
		t.Fatalf("starting the test node: %v", err)
	}
	t.Cleanup(n.Stop)
	return &testNode{Node: n, addr: n.Address()}
}

// versionOf says what version the node's directory says name runs.
func (tn *testNode) versionOf(t *testing.T, name string) uint32 {
	t.Helper()
	es := tn.Directory().ByName(name)
	if len(es) != 1 {
		t.Fatalf("%d live actors named %s, want 1", len(es), name)
	}
	return es[0].Version
}

// ask sends req to the admin in process.
func (tn *testNode) ask(t *testing.T, req proto.Message) any {
	t.Helper()
	res, err := tn.Root().RequestFuture(tn.Admin.PID(), req, wait).Result()
	if err != nil {
		t.Fatalf("the admin did not answer %T within %v: %v", req, wait, err)
	}
	return res
}

// result is one run of the CLI.
type result struct {
	stdout, stderr string
	code           int
}

// molt runs the CLI in process against tn with args, and fails the test
// if it does not return within wait.
func (tn *testNode) molt(t *testing.T, args ...string) result {
	t.Helper()
	return runCLI(t, nil, append([]string{"--node", tn.addr}, args...)...)
}

// runCLI runs the CLI with args and env (nil: empty), writing stderr
// also to notify, if given.
func runCLI(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut syncBuffer
	return runCLIWith(t, env, &out, &errOut, args...)
}

func runCLIWith(t *testing.T, env map[string]string, out, errOut *syncBuffer, args ...string) result {
	t.Helper()
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(args, out, errOut, func(k string) string { return env[k] })
	}()
	select {
	case code := <-done:
		return result{stdout: out.String(), stderr: errOut.String(), code: code}
	case <-time.After(2 * wait):
		t.Fatalf("molt %s did not return within %v; stderr so far: %s", strings.Join(args, " "), 2*wait, errOut.String())
		return result{}
	}
}

// syncBuffer is written by the CLI and read by the test while it runs;
// waitFor wakes on every write.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the buffer holds s, or fails saying what.
func (b *syncBuffer) waitFor(t *testing.T, s, what string) {
	t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		if strings.Contains(b.buf.String(), s) {
			b.mu.Unlock()
			return
		}
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("%s: %q did not appear within %v; got %q", what, s, wait, b.String())
		}
	}
}

// expect fails unless the run exited with code, and, for a failure,
// said why on one line of stderr containing each of want.
func expect(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	if code != cli.ExitOK {
		if n := strings.Count(r.stderr, "\n"); n != 1 || !strings.HasPrefix(r.stderr, "molt: ") {
			t.Errorf("stderr is %q: want one line starting \"molt: \"", r.stderr)
		}
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr %q does not say %q", r.stderr, w)
		}
	}
}

var (
	durations = regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|us|ms|s|m|h)\b(\d+(\.\d+)?(ms|s|m))*`)
	clock     = regexp.MustCompile(`\b\d\d:\d\d:\d\d\.\d\d\d\b`)
	spaces    = regexp.MustCompile(`  +`)
)

// normalText makes a table output comparable between runs: the node's
// address, timings and clock times vary, and with them the columns'
// widths.
func normalText(s, addr string) string {
	s = strings.ReplaceAll(s, addr, "NODE")
	s = clock.ReplaceAllString(s, "<time>")
	s = durations.ReplaceAllString(s, "<d>")
	return spaces.ReplaceAllString(s, "  ")
}

// normalJSON does the same for JSON output (one document, or one per
// line): every number under a key ending in _ns is 0, every time <time>.
func normalJSON(t *testing.T, s, addr string) string {
	t.Helper()
	var out strings.Builder
	dec := json.NewDecoder(strings.NewReader(s))
	for dec.More() {
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("the output is not JSON: %v\n%s", err, s)
		}
		enc := json.NewEncoder(&out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		must(t, enc.Encode(normalValue(v, "", addr)))
	}
	return out.String()
}

func normalValue(v any, key, addr string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if strings.HasSuffix(key, "_ns") {
				x[k] = normalValue(e, key, addr)
			} else {
				x[k] = normalValue(e, k, addr)
			}
		}
	case []any:
		for i, e := range x {
			x[i] = normalValue(e, key, addr)
		}
	case float64:
		if strings.HasSuffix(key, "_ns") {
			return 0
		}
	case string:
		if key == "time" {
			return "<time>"
		}
		return strings.ReplaceAll(x, addr, "NODE")
	}
	return v
}

// golden compares got with testdata/name.golden, or writes it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *updateGolden {
		must(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (go test -update rewrites it):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

var errNotOperator = errors.New("not the operator")

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	return b
}
