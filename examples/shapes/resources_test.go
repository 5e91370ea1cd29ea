package shapes

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/registry/registrytest"
	"github.com/molt-go/molt/update"
)

func TestResourceMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	cat := newCatalog(t, RegisterSession, func(cat *registry.Catalog) error { return RegisterJournal(cat, path) })
	registrytest.Check(t, cat, "journal")
	registrytest.Check(t, cat, "session", registrytest.Lossless(1, 2))
}

func written(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReopen: version 2 reopens the file version 1 wrote to, and goes on
// where it left off. While the file cannot be opened, the update aborts and
// version 1 keeps writing through the handle it holds.
func TestReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "journal")
	node := newNode(t, newCatalog(t, func(cat *registry.Catalog) error { return RegisterJournal(cat, path) }))
	pid := spawn(t, node, "journal", 1)
	node.Root().Send(pid, &Append{Line: "one"})
	if n := ask[*Written](t, node, pid, &GetWritten{}).Lines; n != 1 {
		t.Fatalf("version 1 wrote %d lines, want 1", n)
	}

	// The directory goes away: version 1 still holds its file, but no
	// new version can open it.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	res := updateTo(t, node, pid, &update.UpdateActor{ToVersion: 2}, update.Outcome_OUTCOME_ABORTED)
	if res.GetPhase() != update.Phase_PHASE_REPLACEMENT {
		t.Fatalf("aborted in %v (%s), want replacement", res.GetPhase(), res.GetReason())
	}
	node.Root().Send(pid, &Append{Line: "two"})
	if n := ask[*Written](t, node, pid, &GetWritten{}).Lines; n != 2 {
		t.Fatalf("after the abort version 1 wrote %d lines, want 2", n)
	}

	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	updateTo(t, node, pid, &update.UpdateActor{ToVersion: 2}, update.Outcome_OUTCOME_COMMITTED)
	node.Root().Send(pid, &Append{Line: "three"})
	if n := ask[*Written](t, node, pid, &GetWritten{}).Lines; n != 3 {
		t.Fatalf("version 2 counts %d lines, want 3", n)
	}
	if got := written(t, path); got != "3 three\n" {
		t.Fatalf("the new file holds %q, want version 2's numbered line", got)
	}
}

// TestHandOver: the client's connection goes from version 1 to version 2
// and back, never reopened, and is closed once, when the session stops.
func TestHandOver(t *testing.T) {
	server, client := net.Pipe()
	t.Cleanup(func() { client.Close() })
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(client)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	wantLine := func(want string) {
		t.Helper()
		select {
		case got := <-lines:
			if got != want {
				t.Fatalf("the client read %q, want %q", got, want)
			}
		case <-time.After(patience):
			t.Fatalf("the client read nothing within %v, want %q", patience, want)
		}
	}

	node := newNode(t, newCatalog(t, RegisterSession))
	pid := spawn(t, node, "session", 1)
	node.Root().Send(pid, &Attach{Conn: server})
	node.Root().Send(pid, &Say{Text: "hello"})
	wantLine("hello")
	updateTo(t, node, pid, &update.UpdateActor{ToVersion: 2}, update.Outcome_OUTCOME_COMMITTED)
	node.Root().Send(pid, &Say{Text: "still here"})
	wantLine("v2: still here")
	updateTo(t, node, pid, &update.UpdateActor{ToVersion: 1}, update.Outcome_OUTCOME_COMMITTED)
	node.Root().Send(pid, &Say{Text: "back"})
	wantLine("back")

	if err := node.Root().StopFuture(pid).Wait(); err != nil {
		t.Fatalf("stopping the session: %v", err)
	}
	select {
	case got, open := <-lines:
		if open {
			t.Fatalf("the client read %q after the session stopped", got)
		}
	case <-time.After(patience):
		t.Fatalf("the connection was not closed within %v of the session stopping", patience)
	}
}
