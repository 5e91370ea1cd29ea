// Package proctest runs the programs that molt's tests start as real
// processes (a node in another process, the CLI): it builds them with the
// go tool and starts them so that they stop when the test ends.
package proctest

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Build builds the main package pkg (an import path) into the test's
// temporary directory and returns the binary's path. It skips the test when
// no go tool is found, and fails it when the build fails or takes over
// three minutes.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, statErr := os.Stat(goTool); statErr != nil {
			t.Skipf("no go tool to build %s: %v", pkg, err)
		}
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, goTool, "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// Process is a program started by Start.
type Process struct {
	stderr syncBuffer
}

// Stderr returns what the process has written on its standard error so far.
func (p *Process) Stderr() string { return p.stderr.String() }

// Start runs bin with args and returns the first line it prints on its
// standard output, without the newline: the programs print their address
// there. The process stops when the test ends: its standard input closes
// (the programs exit on that), and it is killed if it has not exited within
// wait. Start fails the test if no line comes within wait.
func Start(t testing.TB, wait time.Duration, bin string, args ...string) (*Process, string) {
	t.Helper()
	p := &Process{}
	cmd := exec.Command(bin, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		lines <- strings.TrimRight(line, "\r\n")
		_, _ = io.Copy(io.Discard, r)
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-exited:
			return
		case <-time.After(wait):
		}
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(wait):
			t.Errorf("%s (pid %d) did not exit after it was killed", filepath.Base(bin), cmd.Process.Pid)
		}
	})
	select {
	case line := <-lines:
		return p, line
	case <-time.After(wait):
		t.Fatalf("%s printed no line within %v; stderr: %s", filepath.Base(bin), wait, p.Stderr())
		return nil, ""
	}
}

// syncBuffer is a strings.Builder that the process's stderr copier and the
// test may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Session is a program started by Open that the test talks to line by
// line: it reads what the program prints and writes commands to its
// standard input.
type Session struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	exited chan struct{}
	stderr syncBuffer
}

// Open starts bin with args as a Session. The process stops when the test
// ends: its standard input closes, and it is killed if it has not exited
// within wait.
func Open(t testing.TB, wait time.Duration, bin string, args ...string) *Session {
	t.Helper()
	s := &Session{t: t, name: filepath.Base(bin), lines: make(chan string, 1024), exited: make(chan struct{})}
	s.cmd = exec.Command(bin, args...)
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = &s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.exited)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
		_ = s.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = s.stdin.Close()
		select {
		case <-s.exited:
			return
		case <-time.After(wait):
		}
		_ = s.cmd.Process.Kill()
		select {
		case <-s.exited:
		case <-time.After(wait):
			t.Errorf("%s (pid %d) did not exit after it was killed", s.name, s.cmd.Process.Pid)
		}
	})
	return s
}

// Expect reads lines until one starts with prefix and returns it; lines
// before it are dropped. It fails the test if none comes within wait or
// the program's output ends.
func (s *Session) Expect(prefix string, wait time.Duration) string {
	s.t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("%s exited before printing %q; stderr:\n%s", s.name, prefix, s.Stderr())
			}
			if strings.HasPrefix(line, prefix) {
				return line
			}
		case <-timer.C:
			s.t.Fatalf("%s printed no %q line within %v; stderr:\n%s", s.name, prefix, wait, s.Stderr())
			return ""
		}
	}
}

// Send writes line and a newline to the program's standard input.
func (s *Session) Send(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		s.t.Fatalf("writing %q to %s: %v", line, s.name, err)
	}
}

// Kill kills the program at once (SIGKILL) and waits, at most ten
// seconds, until it is gone.
func (s *Session) Kill() {
	s.t.Helper()
	_ = s.cmd.Process.Kill()
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.t.Fatalf("%s (pid %d) did not exit within 10s of SIGKILL", s.name, s.cmd.Process.Pid)
	}
}

// Stderr returns what the program has written on its standard error so
// far.
func (s *Session) Stderr() string { return s.stderr.String() }

// Fields parses a line of "name value" pairs, after a first word that
// names the line when the count of words is odd ("check cells 3 bad 0",
// "sent 12"). It fails the test if a value is not a number.
func Fields(t testing.TB, line string) map[string]float64 {
	t.Helper()
	f := strings.Fields(line)
	out := make(map[string]float64, len(f)/2)
	for i := len(f) % 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i+1], 64)
		if err != nil {
			t.Fatalf("line %q: %s of %s is not a number", line, f[i+1], f[i])
		}
		out[f[i]] = v
	}
	return out
}
