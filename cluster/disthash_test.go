package cluster_test

import (
	"github.com/molt-go/molt/internal/remotestop"
	"testing"
	"time"

	pc "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	molt "github.com/molt-go/molt/actor"
	mc "github.com/molt-go/molt/cluster"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestKindWithProtoactorLookup: a kind made by Kind, placed by
// protoactor's own identity lookup (disthash), activates molt actors at
// the member's version, which accept UpdateActor sent by identity.
func TestKindWithProtoactorLookup(t *testing.T) {
	skipUnderRace(t)
	node := molt.NewNode(catalog(t, 1, 2, 3))
	defer node.Shutdown()
	k, err := mc.Kind(node, kind, 2)
	if err != nil {
		t.Fatal(err)
	}
	provider := test.NewTestProvider(test.NewInMemAgent())
	cfg := pc.Configure("plain", provider, disthash.New(), remote.Configure("127.0.0.1", 0),
		pc.WithKinds(k), pc.WithRequestTimeout(5*time.Second))
	c := pc.New(node.System(), cfg)
	c.StartMember()
	defer func() {
		_ = provider.Shutdown(true)
		c.IdentityLookup.Shutdown()
		c.Gossip.Shutdown()
		remotestop.Graceful(c.Remote)
	}()

	res, err := c.Request("d1", kind, wrapperspb.Int64(4), callOpts()...)
	if err != nil || res.(*wrapperspb.Int64Value).GetValue() != 4 {
		t.Fatalf("add: %v %v", res, err)
	}
	pid := c.Get("d1", kind)
	e, ok := node.Directory().Lookup(pid)
	if !ok || e.Kind != kind || e.Version != 2 || e.Labels[mc.LabelIdentity] != "d1" {
		t.Fatalf("d1 (%v) in the directory: %+v %v", pid, e, ok)
	}
	r, err := c.Request("d1", kind, &update.UpdateActor{ToVersion: 3}, callOpts()...)
	if err != nil || r.(*update.UpdateResult).GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("update by identity: %v %v", r, err)
	}
	if s, err := c.Request("d1", kind, wrapperspb.String("get"), callOpts()...); err != nil || s.(*wrapperspb.StringValue).GetValue() != "v3:4" {
		t.Fatalf("get after the update: %v %v", s, err)
	}
}
