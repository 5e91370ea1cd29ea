package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/admin"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// client is one command's connection to a node's admin: an actor system
// of the CLI's own, with molt's remote (so that tokens and TLS behave as
// between nodes), and an inbox actor that every answer and event comes
// back to.
type client struct {
	o       *options
	node    *molt.Node
	admin   *pa.PID
	inbox   *pa.PID
	answers chan proto.Message
	events  chan *manager.Event
	cluster chan proto.Message // MemberEvent and ClusterPackageDone
	broken  chan error         // the first connection failure protoactor logged
	done    chan struct{}
	dialTLS *tls.Config
	closed  sync.Once
	subbed  bool
}

// connect starts the CLI's actor system. Nothing is sent yet: protoactor
// connects on the first message, and a failure then comes back through
// broken.
func (o *options) connect() (*client, error) {
	host, port, err := splitHostPort(o.listen)
	if err != nil {
		return nil, fail(ExitUsage, "--listen %q: %v", o.listen, err)
	}
	cfg := molt.RemoteConfig{Host: host, Port: port, Token: o.token}
	if err := o.tlsConfig(&cfg); err != nil {
		return nil, err
	}
	c := &client{
		o:       o,
		answers: make(chan proto.Message, 16),
		events:  make(chan *manager.Event, 1024),
		cluster: make(chan proto.Message, 1024),
		broken:  make(chan error, 1),
		done:    make(chan struct{}),
	}
	// One try instead of protoactor's five, two seconds apart: the
	// endpoint writer sleeps between tries and Shutdown waits for it, so
	// an unreachable node would otherwise hold the CLI ten seconds after
	// it has said so.
	cfg.Options = []remote.ConfigOption{func(rc *remote.Config) { rc.MaxRetryCount = 1 }}
	logs := pa.WithLoggerFactory(func(*pa.ActorSystem) *slog.Logger { return slog.New(&connWatch{broken: c.broken}) })
	// A dead letter's log throttle keeps a goroutine for its interval;
	// short, so that the process (and a test's leak check) ends promptly.
	node, err := molt.StartNode(registry.New(), molt.WithRemote(cfg), molt.WithConfig(logs, pa.WithDeadLetterThrottleInterval(10*time.Millisecond)))
	if err != nil {
		if errors.Is(err, molt.ErrRemoteConfig) {
			return nil, fail(ExitUsage, "%v", err)
		}
		return nil, fail(ExitUsage, "cannot listen for the node's answers on %s (--listen): %v", o.listen, err)
	}
	c.node = node
	c.dialTLS = cfg.DialTLS
	c.admin = pa.NewPID(o.node, admin.DefaultName)
	c.inbox, err = node.Root().SpawnNamed(pa.PropsFromProducer(func() pa.Actor { return &inbox{c: c} }), "molt-cli")
	if err != nil {
		node.Shutdown()
		return nil, fail(ExitUsage, "starting the CLI's inbox: %v", err)
	}
	return c, nil
}

// close unsubscribes, if the command subscribed, and shuts the CLI's
// actor system down.
func (c *client) close() {
	c.closed.Do(func() {
		if c.subbed {
			// Best effort: a subscriber that goes away is dropped by the
			// admin anyway, once protoactor tells it the endpoint ended.
			_, _ = c.askWithin(context.Background(), &admin.Unsubscribe{Subscriber: update.RefOf(c.inbox)}, time.Second)
		}
		close(c.done)
		c.node.Shutdown()
	})
}

// ask sends req to the admin and waits for its answer, within --timeout.
func (c *client) ask(ctx context.Context, req proto.Message) (proto.Message, error) {
	return c.askWithin(ctx, req, c.o.timeout)
}

func (c *client) askWithin(ctx context.Context, req proto.Message, d time.Duration) (proto.Message, error) {
	return c.request(ctx, c.admin, req, d)
}

// request sends req to pid with the inbox as its sender, and returns the
// next answer the inbox gets. Requests are one at a time, so that answer
// is this request's.
func (c *client) request(ctx context.Context, pid *pa.PID, req proto.Message, d time.Duration) (proto.Message, error) {
	c.drainAnswers()
	c.node.Root().RequestWithCustomSender(pid, req, c.inbox)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case a := <-c.answers:
		if _, ok := a.(*pa.DeadLetterResponse); ok {
			return nil, fail(ExitFailed, "no actor %q on %s: %s", pid.GetId(), c.o.node, deadLetterHint(pid))
		}
		return a, nil
	case err := <-c.broken:
		return nil, c.connectionError(err)
	case <-t.C:
		return nil, fail(ExitUnreachable, "no answer from %s to %s within %v (--timeout): the node may be down, or unable to connect back to this client at %s (--listen)",
			c.o.node, typeName(req), d, c.node.Address())
	case <-ctx.Done():
		return nil, fail(ExitInterrupted, "interrupted while waiting for %s's answer to %s", c.o.node, typeName(req))
	}
}

// drainAnswers drops the late answers of earlier requests.
func (c *client) drainAnswers() {
	for {
		select {
		case <-c.answers:
		default:
			return
		}
	}
}

func deadLetterHint(pid *pa.PID) string {
	if pid.GetId() == admin.DefaultName {
		return "the node runs no admin service (admin.Spawn)"
	}
	return "no such live actor"
}

func typeName(m proto.Message) string {
	return string(m.ProtoReflect().Descriptor().Name())
}

// subscribe makes the inbox receive the manager's events; once it
// returns, no event of a package started after it is missed.
func (c *client) subscribe(ctx context.Context) error {
	ans, err := c.ask(ctx, &admin.Subscribe{Subscriber: update.RefOf(c.inbox)})
	if err != nil {
		return err
	}
	if _, ok := ans.(*admin.Subscribed); !ok {
		return answerError("Subscribe", ans)
	}
	c.subbed = true
	return nil
}

// connectionError says why protoactor could not connect to the node.
func (c *client) connectionError(err error) error {
	st, _ := status.FromError(err)
	msg := st.Message()
	if st.Code() != codes.Unauthenticated && dropped(msg) {
		// A probe the node admitted waits until its deadline: then
		// protoactor's error is all there is.
		if p := c.probe(); p != nil && status.Code(p) != codes.DeadlineExceeded {
			st, _ = status.FromError(p)
			msg = st.Message()
		}
	}
	switch {
	case st.Code() == codes.Unauthenticated:
		return fail(ExitRefused, "%s refused this client's credential: %s", c.o.node, strings.TrimPrefix(msg, "molt: refused: "))
	case strings.Contains(msg, "bearer token is not sent in plain text"):
		return fail(ExitUsage, "the token is not sent in plain text to %s: connect with TLS (--ca)", c.o.node)
	case strings.Contains(msg, "handshake"), strings.Contains(msg, "certificate"), strings.Contains(msg, "tls:"):
		return fail(ExitRefused, "TLS with %s failed: %s", c.o.node, msg)
	case dropped(msg) && c.dialTLS != nil:
		// With TLS 1.3 the client's side of the handshake ends before
		// the server checks the client's certificate: a refusal shows
		// as a connection dropped at once.
		return fail(ExitRefused, "TLS with %s failed: it dropped the connection after the handshake, so it does not accept this client's certificate (--cert) (%s)", c.o.node, msg)
	case dropped(msg):
		// A TLS server drops a plain-text connection at once.
		return fail(ExitRefused, "%s dropped the connection at once: does it require TLS (--ca, --cert, --key)? (%s)", c.o.node, msg)
	}
	if i := strings.Index(msg, "dial tcp"); i >= 0 {
		msg = strings.TrimRight(msg[i:], `"`)
	}
	return fail(ExitUnreachable, "%s is unreachable: %s", c.o.node, msg)
}

// dropped says the node accepted the TCP connection and then closed it.
func dropped(msg string) bool {
	for _, s := range []string{"EOF", "broken pipe", "connection reset", "server preface"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// inbox hands the node's answers and events to the command.
type inbox struct{ c *client }

func (b *inbox) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *manager.Event:
		select {
		case b.c.events <- m:
		case <-b.c.done:
		}
	case *admin.MemberEvent, *admin.ClusterPackageDone:
		select {
		case b.c.cluster <- m.(proto.Message):
		case <-b.c.done:
		}
	case *pa.DeadLetterResponse:
		b.answer(m)
	case pa.SystemMessage, pa.AutoReceiveMessage:
	case proto.Message:
		b.answer(m)
	}
}

func (b *inbox) answer(m proto.Message) {
	select {
	case b.c.answers <- m:
	case <-b.c.done:
	}
}

// connWatch is the CLI system's logger: it drops protoactor's logs but
// the endpoint writer's failure to connect, or its lost connection, whose
// error (refused connection, refused credential, failed handshake) is the
// only word the CLI gets of it before a request times out.
type connWatch struct{ broken chan<- error }

func (w *connWatch) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (w *connWatch) Handle(_ context.Context, r slog.Record) error {
	if !strings.HasPrefix(r.Message, "EndpointWriter failed") && r.Message != "EndpointWriter lost connection" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "error" {
			return true
		}
		err, ok := a.Value.Any().(error)
		if !ok {
			err = errors.New(a.Value.String())
		}
		select {
		case w.broken <- err:
		default:
		}
		return false
	})
	return nil
}

func (w *connWatch) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *connWatch) WithGroup(string) slog.Handler      { return w }

// tlsConfig sets the CLI's TLS from --ca, --cert and --key. A node with
// TLS dials the CLI back with TLS to answer, so the CLI's listener serves
// TLS with its certificate and, given a CA, requires the node's.
func (o *options) tlsConfig(cfg *molt.RemoteConfig) error {
	if o.ca == "" && o.cert == "" {
		return nil
	}
	dial := &tls.Config{MinVersion: tls.VersionTLS12}
	var pool *x509.CertPool
	if o.ca != "" {
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return fail(ExitUsage, "--ca: %v", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fail(ExitUsage, "--ca %s holds no PEM certificate", o.ca)
		}
		dial.RootCAs = pool
	}
	cfg.DialTLS = dial
	if o.cert == "" {
		return nil
	}
	pair, err := tls.LoadX509KeyPair(o.cert, o.key)
	if err != nil {
		return fail(ExitUsage, "--cert/--key: %v", err)
	}
	dial.Certificates = []tls.Certificate{pair}
	server := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	if pool != nil {
		server.ClientAuth, server.ClientCAs = tls.RequireAndVerifyClientCert, pool
	}
	cfg.TLS = server
	return nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not a port number", p)
	}
	return host, port, nil
}

// answerError turns an answer that is not the one asked for into the
// command's error.
func answerError(req string, ans proto.Message) error {
	switch a := ans.(type) {
	case *admin.Refused:
		return refusal(req, a.GetReason())
	case *manager.PackageRefused:
		reason := a.GetReason()
		if len(a.GetProblems()) > 0 {
			reason += ": " + strings.Join(a.GetProblems(), "; ")
		}
		return refusal(req, reason)
	}
	return fail(ExitFailed, "the node answered %s with a %s: %v", req, typeName(ans), ans)
}

// refusal is a refused request's error; one the node's access control
// refused is this client's lack of a right, not a bad request.
func refusal(req, reason string) error {
	if strings.HasPrefix(reason, molt.ErrRefused.Error()) {
		return fail(ExitRefused, "%s refused: %s", req, reason)
	}
	return fail(ExitFailed, "%s refused: %s", req, reason)
}

// probe asks the node directly why it ended protoactor's stream: the
// server refuses a credential with a status that only a Recv reads, and
// protoactor, whose Send failed first, reports a bare EOF or broken pipe.
// The probe presents what protoactor presented, and is bounded: a node
// that admits it waits for more, and the probe gives up.
func (c *client) probe() error {
	ctx, cancel := context.WithTimeout(context.Background(), min(c.o.timeout, 5*time.Second))
	defer cancel()
	creds := insecure.NewCredentials()
	if c.dialTLS != nil {
		creds = credentials.NewTLS(c.dialTLS)
	}
	conn, err := grpc.DialContext(ctx, c.o.node, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer conn.Close()
	host, _, _ := net.SplitHostPort(c.o.node)
	if c.o.token != "" && (c.dialTLS != nil || isLoopback(host)) {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.o.token)
	}
	stream, err := remote.NewRemotingClient(conn).Receive(ctx)
	if err != nil {
		return err
	}
	_, err = stream.Recv()
	return err
}

// isLoopback is molt's rule for sending a token in plain text.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
