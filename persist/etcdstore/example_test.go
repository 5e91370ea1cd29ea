package etcdstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/persist/etcdstore"
	"github.com/molt-go/molt/registry"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Every member of a cluster opens a store on the same etcd: a grain's
// snapshot, written on one member, loads on whichever member activates it
// next. (This example needs an etcd on 127.0.0.1:2379, so it is compiled,
// not run.)
func Example() {
	store, err := etcdstore.Open(clientv3.Config{Endpoints: []string{"127.0.0.1:2379"}, DialTimeout: 5 * time.Second},
		etcdstore.WithPrefix("/shop/snapshots/"), etcdstore.Fenced())
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	ctx := context.Background()
	// Usually made by registry.Catalog.Seal from a live state, and saved by
	// molt.Persist.
	snap := envelope.New("account", 1, "msgpack", []byte{0x81, 0xa1, 'N', 0x2a})
	snap.Name, snap.Sequence = "molt-placement/account/alice", 7
	if err := store.Save(ctx, snap.Name, snap); err != nil {
		log.Fatal(err)
	}
	got, err := store.Load(ctx, snap.Name)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.GetKind(), got.GetVersion(), got.GetSequence())

	// A node whose persistent actors (molt.Persistent) keep their
	// snapshots in etcd.
	node := molt.NewNode(registry.New(), molt.WithStore(store))
	defer node.Shutdown()
}
