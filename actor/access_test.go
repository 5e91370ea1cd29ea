package actor_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/internal/remotetest"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	operatorToken = "operator-0123456789abcdef0123456789abcdef"
	appToken      = "app-0123456789abcdef0123456789abcdef0123"
)

// A configuration that would expose the node is refused before anything
// listens.
func TestRemoteConfigRefused(t *testing.T) {
	cert, err := remotetest.NewCert("node")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]molt.RemoteConfig{
		"all interfaces in plain text":      {Host: "0.0.0.0"},
		"IPv6 any in plain text":            {Host: "::"},
		"TLS without a credential":          {Host: "0.0.0.0", TLS: cert.Server(false)},
		"a short token":                     {Tokens: map[string]string{"short": "secret"}},
		"a token without a name":            {Tokens: map[string]string{"": operatorToken}},
		"plain text even with a good token": {Host: "0.0.0.0", Tokens: map[string]string{"operator": operatorToken}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			node, err := molt.StartNode(registry.New(), molt.WithRemote(c))
			if err == nil {
				node.Shutdown()
				t.Fatal("the node started")
			}
			if !errors.Is(err, molt.ErrRemoteConfig) {
				t.Fatalf("the error %v does not wrap ErrRemoteConfig", err)
			}
		})
	}
}

// rawSend connects to a node as any program could, with protoactor's
// gRPC protocol, presents what md holds, and sends msg to target. It
// returns the error of the connection's first answer: nil when the node
// admitted it.
func rawSend(t *testing.T, address string, creds credentials.TransportCredentials, md metadata.MD, target *pa.PID, msg proto.Message) error {
	t.Helper()
	conn, err := grpc.Dial(address, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), remoteWait)
	defer cancel()
	if md != nil {
		ctx = metadata.NewOutgoingContext(ctx, md)
	}
	stream, err := remote.NewRemotingClient(conn).Receive(ctx)
	if err != nil {
		return err
	}
	data, typeName, err := remote.Serialize(msg, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Send errors show again in Recv, which says why.
	_ = stream.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{ConnectRequest: &remote.ConnectRequest{
		ConnectionType: &remote.ConnectRequest_ServerConnection{ServerConnection: &remote.ServerConnection{SystemId: "raw", Address: "127.0.0.1:1"}},
	}}})
	_ = stream.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: &remote.MessageBatch{
		TypeNames: []string{typeName},
		Targets:   []*pa.PID{target},
		Envelopes: []*remote.MessageEnvelope{{MessageData: data}},
	}}})
	_, err = stream.Recv()
	_ = stream.CloseSend()
	return err
}

// waitLog waits for a record holding every part, or fails saying which.
func waitLog(t *testing.T, log *remotetest.Log, parts ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), remoteWait)
	defer cancel()
	r, err := log.Wait(ctx, parts...)
	if err != nil {
		t.Fatalf("the refusal was not logged: %v", err)
	}
	return r
}

func wantVersion(t *testing.T, node *molt.Node, pid *pa.PID, version uint32) {
	t.Helper()
	if e, ok := node.Directory().Lookup(pid); !ok || e.Version != version {
		t.Fatalf("%v runs version %d (found %v), want %d", pid, e.Version, ok, version)
	}
}

// awaitVersion waits, bounded, for an update sent without a sender (so
// without an answer) to show in the directory: it travels from another
// sender than the test's, so no message of the test's can be ordered
// after it.
func awaitVersion(t *testing.T, node *molt.Node, pid *pa.PID, version uint32) {
	t.Helper()
	deadline := time.Now().Add(remoteWait)
	for {
		e, ok := node.Directory().Lookup(pid)
		if ok && e.Version == version {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v still runs version %d (found %v) %v after the update was sent, want %d", pid, e.Version, ok, remoteWait, version)
		}
		time.Sleep(time.Millisecond)
	}
}

// A node that requires a token refuses a connection without one, or with
// another: its messages are never read.
func TestRemoteTokenRefused(t *testing.T) {
	skipRemoteUnderRace(t)
	log := remotetest.NewLog()
	b := startTallyNode(t, molt.RemoteConfig{Tokens: map[string]string{"operator": operatorToken}},
		molt.WithConfig(pa.WithLoggerFactory(log.Factory)))
	pid, err := b.Spawn(remotetest.Kind, 1, molt.WithName("tally"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		md     metadata.MD
		reason string
	}{
		{"no token", nil, "no bearer token was presented"},
		{"wrong token", metadata.Pairs("authorization", "Bearer "+appToken), "not one of this node's"},
		{"not a bearer token", metadata.Pairs("authorization", "Basic "+operatorToken), "not a bearer token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := rawSend(t, b.Address(), insecure.NewCredentials(), c.md, pid, &update.UpdateActor{ToVersion: 2})
			if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("the connection got %v, want Unauthenticated saying %q", err, c.reason)
			}
			waitLog(t, log, "molt: remote connection refused", "origin=127.0.0.1:", c.reason)
			wantVersion(t, b, pid, 1)
		})
	}
	t.Run("the right token", func(t *testing.T) {
		err := rawSend(t, b.Address(), insecure.NewCredentials(), metadata.Pairs("authorization", "Bearer "+operatorToken), pid, &update.UpdateActor{ToVersion: 2})
		if err != nil {
			t.Fatalf("the operator's connection was refused: %v", err)
		}
		// No sender, so no answer: the directory says when it is done.
		awaitVersion(t, b, pid, 2)
	})
}

// A TLS node refuses a plain-text client in the handshake, and admits a
// client whose certificate it trusts.
func TestRemoteTLSRefusesPlainText(t *testing.T) {
	skipRemoteUnderRace(t)
	server, err := remotetest.NewCert("node")
	if err != nil {
		t.Fatal(err)
	}
	client, err := remotetest.NewCert("client")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := remotetest.NewCert("stranger")
	if err != nil {
		t.Fatal(err)
	}
	log := remotetest.NewLog()
	origins := make(chan molt.Origin, 1)
	b := startTallyNode(t, molt.RemoteConfig{
		TLS: server.Server(true, client),
		Allow: func(o molt.Origin) error {
			origins <- o
			return nil
		},
	}, molt.WithConfig(pa.WithLoggerFactory(log.Factory)))
	pid, err := b.Spawn(remotetest.Kind, 1, molt.WithName("tally"))
	if err != nil {
		t.Fatal(err)
	}

	err = rawSend(t, b.Address(), insecure.NewCredentials(), nil, pid, &update.UpdateActor{ToVersion: 2})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("a plain-text client got %v, want Unavailable", err)
	}
	waitLog(t, log, "molt: remote connection refused", "origin=127.0.0.1:", "method=TLS handshake")
	wantVersion(t, b, pid, 1)

	err = rawSend(t, b.Address(), credentials.NewTLS(stranger.Client(server)), nil, pid, &update.UpdateActor{ToVersion: 2})
	if err == nil {
		t.Fatal("a client with a certificate the node does not trust was admitted")
	}
	wantVersion(t, b, pid, 1)

	if err := rawSend(t, b.Address(), credentials.NewTLS(client.Client(server)), nil, pid, &update.UpdateActor{ToVersion: 2}); err != nil {
		t.Fatalf("the trusted client was refused: %v", err)
	}
	awaitVersion(t, b, pid, 2)
	select {
	case o := <-origins:
		if o.Credential != "certificate" || o.Name != "client" || !strings.HasPrefix(o.Address, "127.0.0.1:") {
			t.Errorf("the update's origin is %+v, want the client's certificate from 127.0.0.1", o)
		}
	default:
		t.Error("Allow was not asked about the update")
	}
}

// A peer admitted for its application messages but not allowed to update
// sends UpdateActor, CommitUpdate and AbortUpdate straight to an actor's
// PID: each is rejected, changes nothing, and is logged with its origin.
// The same Allow answers Authorize, for other receivers of requests.
func TestRemoteDisallowedOrigin(t *testing.T) {
	skipRemoteUnderRace(t)
	tokens := map[string]string{"operator": operatorToken, "app": appToken}
	onlyOperator := func(o molt.Origin) error {
		if o.Name != "operator" {
			return errors.New("only the operator may update actors")
		}
		return nil
	}
	log := remotetest.NewLog()
	b := startTallyNode(t, molt.RemoteConfig{Tokens: tokens, Token: operatorToken, Allow: onlyOperator},
		molt.WithConfig(pa.WithLoggerFactory(log.Factory)))
	app := startTallyNode(t, molt.RemoteConfig{Tokens: tokens, Token: appToken})
	operator := startTallyNode(t, molt.RemoteConfig{Tokens: tokens, Token: operatorToken})

	pid, err := b.Spawn(remotetest.Kind, 1, molt.WithName("tally"))
	if err != nil {
		t.Fatal(err)
	}
	// A PID caches the process of the first actor system that resolves
	// it, here the remote of the node that sends first: each sending node
	// gets its own.
	far := pa.NewPID(b.Address(), "tally")
	app.Root().Send(far, wrapperspb.Int64(5))
	if n := tallyOf(t, app.Root(), far); n != 5 {
		t.Fatalf("the app's own messages were not delivered: tally %d", n)
	}

	for _, msg := range []proto.Message{
		&update.UpdateActor{ToVersion: 2, UpdateId: "sneaky"},
		&update.CommitUpdate{UpdateId: "sneaky"},
		&update.AbortUpdate{UpdateId: "sneaky"},
	} {
		res := updateResult(t, ask(t, app.Root(), far, msg))
		if res.GetOutcome() != update.Outcome_OUTCOME_REJECTED || res.GetPhase() != update.Phase_PHASE_INITIALIZATION ||
			res.GetUpdateId() != "sneaky" || !strings.Contains(res.GetReason(), "refused") ||
			!strings.Contains(res.GetReason(), `token "app"`) || !strings.Contains(res.GetReason(), "only the operator") {
			t.Errorf("%T from the app: %v", msg, res)
		}
		waitLog(t, log, "molt: remote request refused", "origin=127.0.0.1:", "name=app",
			"message=*update."+string(msg.ProtoReflect().Descriptor().Name()), "actor=tally")
	}
	wantVersion(t, b, pid, 1)
	if n := tallyOf(t, app.Root(), far); n != 5 {
		t.Errorf("the tally is %d after the refused requests, want 5", n)
	}

	// The hook for other receivers: a plain protoactor actor asks.
	admin, err := b.Root().SpawnNamed(pa.PropsFromFunc(func(ctx pa.Context) {
		if _, ok := ctx.Message().(*wrapperspb.StringValue); ok {
			if err := molt.Authorize(ctx); err != nil {
				ctx.Respond(wrapperspb.String(err.Error()))
				return
			}
			ctx.Respond(wrapperspb.String("ok"))
		}
	}), "admin")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		from *pa.RootContext
		want string
	}{
		{"in process", b.Root(), "ok"},
		{"the operator", operator.Root(), "ok"},
		{"the app", app.Root(), "molt: refused"},
	} {
		pid := pa.NewPID(b.Address(), "admin")
		if c.from == b.Root() {
			pid = admin
		}
		got, _ := ask(t, c.from, pid, wrapperspb.String("run")).(*wrapperspb.StringValue)
		if !strings.HasPrefix(got.GetValue(), c.want) {
			t.Errorf("Authorize for %s: %q, want %q", c.name, got.GetValue(), c.want)
		}
	}

	res := updateResult(t, ask(t, operator.Root(), pa.NewPID(b.Address(), "tally"), &update.UpdateActor{ToVersion: 2}))
	if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("the operator's update: %v", res)
	}
	wantVersion(t, b, pid, 2)
}
