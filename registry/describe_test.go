package registry_test

import (
	"reflect"
	"testing"

	"github.com/molt-go/molt/registry"
)

func TestDescribeCopiesWhatTheCatalogueHolds(t *testing.T) {
	c := registry.New()
	must(t, registry.Register(c, "counter", 1, newV1, registry.Accepts(&increment{}, &reset{})))
	must(t, registry.Register(c, "counter", 2, newV2, registry.Accepts(&add{}, &reset{})))
	must(t, registry.Adapt(c, "counter", 2, func(m *increment) *add { return &add{N: int64(m.By)} }))

	got, ok := c.Describe("counter")
	if !ok {
		t.Fatal("Describe did not find the kind counter")
	}
	want := []registry.VersionInfo{
		{Version: 1, State: "*registry_test.counterV1", Codec: "msgpack", Declared: true,
			Accepts: []string{"*registry_test.increment", "*registry_test.reset"}},
		{Version: 2, State: "*registry_test.counterV2", Codec: "msgpack", Declared: true,
			Accepts:  []string{"*registry_test.add", "*registry_test.reset"},
			Adapters: []registry.AdapterInfo{{From: "*registry_test.increment", To: "*registry_test.add"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Describe(counter) = %+v\nwant %+v", got, want)
	}
	if _, ok := c.Describe("nothing"); ok {
		t.Error("Describe found a kind that was never registered")
	}
}
