package shapes

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
)

// Messages of the journal kind.
type (
	Append     struct{ Line string }
	GetWritten struct{}
	// Written answers GetWritten.
	Written struct{ Lines int64 }
)

// JournalV1 appends lines to a file. The file handle is no state: each
// version opens the file itself, from the path the state carries.
type JournalV1 struct {
	Path  string
	Lines int64

	f *os.File
}

func (j *JournalV1) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		j.f = mustOpen(j.Path)
	case *update.Retired, *actor.Stopping, *actor.Restarting:
		j.f.Close()
	case *Append:
		fmt.Fprintln(j.f, m.Line)
		j.Lines++
	case *GetWritten:
		ctx.Respond(&Written{Lines: j.Lines})
	}
}

// JournalV2 numbers the lines it appends.
type JournalV2 struct {
	Path  string
	Lines int64

	f *os.File
}

func (j *JournalV2) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started, *update.VersionChanged:
		j.f = mustOpen(j.Path) // a panic here aborts the update: version 1 runs on, its file open
	case *update.Retired, *actor.Stopping, *actor.Restarting:
		j.f.Close()
	case *Append:
		j.Lines++
		fmt.Fprintf(j.f, "%d %s\n", j.Lines, m.Line)
	case *GetWritten:
		ctx.Respond(&Written{Lines: j.Lines})
	}
}

func mustOpen(path string) *os.File {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		panic(fmt.Sprintf("journal: %v", err))
	}
	return f
}

// RegisterJournal adds the journal kind to cat, its actors writing to path.
func RegisterJournal(cat *registry.Catalog, path string) error {
	api := registry.Accepts(&Append{}, &GetWritten{})
	return errors.Join(
		registry.Register(cat, "journal", 1, func() *JournalV1 { return &JournalV1{Path: path} },
			api, registry.Transient("f")),
		registry.Register(cat, "journal", 2, func() *JournalV2 { return &JournalV2{Path: path} },
			api, registry.Transient("f")),
		registry.Migrate(cat, "journal", 1, 2, func(old *JournalV1) (*JournalV2, error) {
			return &JournalV2{Path: old.Path, Lines: old.Lines}, nil
		}),
	)
}

// Messages of the session kind.
type (
	// Attach gives a session the client's connection.
	Attach struct{ Conn net.Conn }
	Say    struct{ Text string }
)

// SessionV1 writes to a client's connection. The connection cannot be
// reopened: it is handed from version to version, and only the value that
// runs closes it.
type SessionV1 struct {
	Said int64

	conn net.Conn
}

func (s *SessionV1) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *Attach:
		s.conn = m.Conn
	case *Say:
		fmt.Fprintln(s.conn, m.Text)
		s.Said++
	case *actor.Stopping:
		if s.conn != nil {
			s.conn.Close()
		}
		// Not on Retired: the value that replaces this one has the connection.
	}
}

// SessionV2 tags what it writes with the version.
type SessionV2 struct {
	Said int64

	conn net.Conn
}

func (s *SessionV2) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *Attach:
		s.conn = m.Conn
	case *Say:
		fmt.Fprintf(s.conn, "v2: %s\n", m.Text)
		s.Said++
	case *actor.Stopping:
		if s.conn != nil {
			s.conn.Close()
		}
	}
}

// RegisterSession adds the session kind to cat.
func RegisterSession(cat *registry.Catalog) error {
	api := registry.Accepts(&Attach{}, &Say{})
	return errors.Join(
		// Clone copies the handle, not the connection: both values then
		// share it, which is the hand-over. (Without Clone the codec's copy
		// would drop it, as it drops every unexported field.)
		registry.Register(cat, "session", 1, func() *SessionV1 { return &SessionV1{} }, api,
			registry.Clone(func(s *SessionV1) *SessionV1 { c := *s; return &c })),
		registry.Register(cat, "session", 2, func() *SessionV2 { return &SessionV2{} }, api,
			registry.Clone(func(s *SessionV2) *SessionV2 { c := *s; return &c })),
		// Pure: the migrations only read the old value, so the copy is
		// spared altogether.
		registry.Migrate(cat, "session", 1, 2, func(old *SessionV1) (*SessionV2, error) {
			return &SessionV2{Said: old.Said, conn: old.conn}, nil
		}, registry.Pure()),
		registry.Migrate(cat, "session", 2, 1, func(old *SessionV2) (*SessionV1, error) {
			return &SessionV1{Said: old.Said, conn: old.conn}, nil
		}, registry.Pure()),
	)
}
