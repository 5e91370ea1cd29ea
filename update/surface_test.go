package update_test

import (
	"go/ast"
	"go/build"
	"go/doc"
	"go/parser"
	"go/token"
	"path/filepath"
	"testing"
)

// exported lists what package update exports, read from its source as go doc
// reads it: functions and types by name, methods as Type.Method.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range pkg.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(pkg.Dir, name), nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	p, err := doc.NewFromFiles(fset, files, "github.com/molt-go/molt/update")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			for _, n := range v.Names {
				names[n] = true
			}
		}
	}
	funcs := func(prefix string, fs []*doc.Func) {
		for _, f := range fs {
			names[prefix+f.Name] = true
		}
	}
	values(p.Consts)
	values(p.Vars)
	funcs("", p.Funcs)
	for _, ty := range p.Types {
		names[ty.Name] = true
		values(ty.Consts)
		values(ty.Vars)
		funcs("", ty.Funcs)
		funcs(ty.Name+".", ty.Methods)
	}
	return names
}

// TestPublicSurface pins what users can reach. The protocol's machinery
// lives in internal/protocol: with it exported, user code could start an
// update by hand, skipping what the actor guarantees around it (one update
// at a time, the deadline timer, the result sent once, the directory kept
// up to date), or roll an actor back outside a probation.
func TestPublicSurface(t *testing.T) {
	names := exported(t)
	for _, internal := range []string{
		"Start", "Host", "Update", "Rollback", "EchoID",
		"Update.Continue", "Update.Commit", "Update.Expire", "Update.Abort",
	} {
		if names[internal] {
			t.Errorf("package update exports %s, the protocol's machinery: it belongs in internal/protocol", internal)
		}
	}
	for _, public := range []string{
		"UpdateActor", "UpdateActor.Validate", "UpdateResult", "CommitUpdate", "CommitUpdate.Validate",
		"AbortUpdate", "AbortUpdate.Validate", "Probation", "ProbationResult", "ActorRef", "ActorRef.PID", "RefOf",
		"Notifiable", "Quiescent", "Admitter", "Checker", "Notice", "VersionChanged", "Aborted", "Retired",
		"DefaultDeadline", "MinDeadline", "MaxDeadline", "MaxProbation", "MaxIDLength", "MaxGroupMembers", "MaxReasonLength",
	} {
		if !names[public] {
			t.Errorf("package update no longer exports %s, which users need", public)
		}
	}
}
