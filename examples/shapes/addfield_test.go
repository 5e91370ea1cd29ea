package shapes

import (
	"testing"

	"github.com/molt-go/molt/registry/registrytest"
	"github.com/molt-go/molt/update"
)

func TestProfileMigrations(t *testing.T) {
	registrytest.Check(t, newCatalog(t, RegisterProfile), "profile")
}

// TestAddField: the name set under version 1 survives the update, the new
// field starts at its default, and version 2 takes the new message.
func TestAddField(t *testing.T) {
	node := newNode(t, newCatalog(t, RegisterProfile))
	pid := spawn(t, node, "profile", 1)
	node.Root().Send(pid, &SetName{Name: "Ada"})

	updateTo(t, node, pid, &update.UpdateActor{ToVersion: 2}, update.Outcome_OUTCOME_COMMITTED)
	runs(t, node, pid, 2)
	if got := ask[*Profile](t, node, pid, &GetProfile{}); *got != (Profile{Name: "Ada", Locale: DefaultLocale}) {
		t.Fatalf("after the update the profile is %+v, want Ada in the default locale", *got)
	}
	node.Root().Send(pid, &SetLocale{Locale: "fr"})
	if got := ask[*Profile](t, node, pid, &GetProfile{}); got.Locale != "fr" {
		t.Fatalf("version 2 did not take SetLocale: locale %q", got.Locale)
	}
}

// TestAddFieldDowngradeRejected: version 1 does not take SetLocale, and no
// down migration exists, so a downgrade is refused before anything is
// touched.
func TestAddFieldDowngradeRejected(t *testing.T) {
	node := newNode(t, newCatalog(t, RegisterProfile))
	pid := spawn(t, node, "profile", 1)
	updateTo(t, node, pid, &update.UpdateActor{ToVersion: 2}, update.Outcome_OUTCOME_COMMITTED)
	res := updateTo(t, node, pid, &update.UpdateActor{ToVersion: 1}, update.Outcome_OUTCOME_REJECTED)
	t.Logf("downgrade refused: %s", res.GetReason())
	runs(t, node, pid, 2)
}
