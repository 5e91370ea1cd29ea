package registry_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/molt-go/molt/registry"
)

// TestDirectoryIsReadOnly pins Directory's methods to its reads. A node's
// directory is what tools and the update manager trust to know which actor
// runs which version; a method that changes it, exported, would let user
// code record an actor that does not exist or a version it does not run.
// molt's runtime writes through internal/directory.
func TestDirectoryIsReadOnly(t *testing.T) {
	ty := reflect.TypeFor[*registry.Directory]()
	var got []string
	for i := range ty.NumMethod() {
		got = append(got, ty.Method(i).Name)
	}
	if want := []string{"ByName", "Len", "List", "Lookup", "Range"}; !slices.Equal(got, want) {
		t.Errorf("*registry.Directory has the methods %v, want the reads %v alone", got, want)
	}
}
