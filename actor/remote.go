package actor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/asynkron/protoactor-go/remote"
	"github.com/molt-go/molt/internal/remotestop"
	"github.com/molt-go/molt/registry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// DefaultRemoteHost is where a node listens for other processes when its
// RemoteConfig names no host: loopback, so that nothing off the machine can
// reach it until TLS and a credential are configured.
const DefaultRemoteHost = "127.0.0.1"

// ErrRemoteConfig is wrapped by the errors StartNode returns for a remote
// configuration it refuses to start with.
var ErrRemoteConfig = errors.New("molt: remote configuration refused")

// RemoteConfig says where a node listens for other processes, and whom it
// lets in. The zero value listens on 127.0.0.1, on a port the system
// picks, and admits loopback peers only.
//
// Who may connect is decided per connection, before any message is read:
//   - with Tokens, a peer must present one of them as a bearer token;
//   - with a TLS config that requires and verifies client certificates
//     (ClientAuth tls.RequireAndVerifyClientCert and ClientCAs), a peer must
//     present a certificate those CAs signed (mutual TLS);
//   - with neither, only peers on a loopback address get in.
//
// Then, per message, Allow decides whether an admitted peer may send
// control messages (UpdateActor, CommitUpdate, AbortUpdate, and whatever
// its receiver checks with Authorize).
type RemoteConfig struct {
	// Host is the address to listen on; "" means DefaultRemoteHost. A
	// host that is not a loopback address ("0.0.0.0", "::", a LAN address)
	// requires TLS and a credential (Tokens or client certificates).
	Host string
	// Port is the port to listen on; 0 lets the system pick one (see
	// Node.Address).
	Port int
	// AdvertisedHost is the host:port other processes reach this node at,
	// if not the one it listens on (behind NAT, in a container).
	AdvertisedHost string

	// TLS is the server side's TLS configuration: its certificate, and for
	// mutual TLS ClientAuth and ClientCAs. nil: plain text, allowed on
	// loopback only.
	TLS *tls.Config
	// DialTLS is the TLS configuration this node uses when it connects to
	// other nodes (to send them messages, or replies): their CA, and its
	// own certificate for mutual TLS. nil: plain text.
	DialTLS *tls.Config

	// Tokens are the bearer tokens peers may present, by name: the name
	// is the Origin's Name of what they send. A token must be at least
	// MinTokenLength bytes.
	Tokens map[string]string
	// Token is the bearer token this node presents to the nodes it
	// connects to. It is never sent in plain text to a host that is not a
	// loopback address.
	Token string

	// Allow decides whether an admitted peer may send control messages;
	// it returns why not. nil allows every admitted peer.
	Allow func(Origin) error

	// Options are further protoactor remote options (batch and queue
	// sizes, kinds). gRPC server and dial options given here are kept,
	// and molt's credentials and interceptors are added after them.
	// They override molt's remote defaults (fixed 4 MB gRPC windows, a
	// 1,024-slot initial endpoint writer queue: see remoteWindowSize);
	// gRPC's own windows come back with window sizes of 0, protoactor's
	// queue with remote.WithEndpointWriterQueueSize(1000000).
	Options []remote.ConfigOption
}

// MinTokenLength is the shortest bearer token a RemoteConfig accepts: 32
// bytes, the size of a 256-bit random secret, so that guessing one is out
// of reach.
const MinTokenLength = 32

// molt's defaults for protoactor remote, where protoactor's own cost
// latency. Each applies to both directions (the node's gRPC server, and
// the connections it dials); an option in RemoteConfig.Options that sets
// the same thing overrides it. Profiled with BenchmarkRemoteUpdate (one
// request in flight over loopback, two cores; see docs/benchmarks.md):
//
//   - remoteWindowSize: gRPC's HTTP/2 flow-control windows, fixed. With
//     gRPC's default (64 KB windows grown by BDP estimation), a
//     transport that receives a DATA frame after its last BDP ping was
//     answered sends a new ping and a window update, and the peer answers
//     the ping: on protoactor's request-reply traffic that is nearly every
//     message. strace counted 4.7 write and 7.6 read syscalls per round
//     trip, against 2 and 4 with fixed windows (one write per message,
//     and its read), plus the goroutine wake-ups of gRPC's writer and
//     reader for each ping, on the critical path's two cores. Fixed
//     windows turn estimation off. 4 MB is gRPC's default largest
//     message, so any message gRPC accepts fits in one window; it bounds
//     what a connection may have in flight, and over a 50 ms link still
//     carries 80 MB/s (estimation would grow to 16 MB).
//   - endpointWriterQueueSize: the initial capacity of the queue in
//     front of each peer's endpoint writer. protoactor's default, 1e6
//     slots, allocates a 16 MB array of pointers per peer up front, which
//     every GC cycle scans and which doubles the heap the GC lets grow
//     (a process with two peers lived at 40 MB instead of 11 MB): fresh
//     heap pages fault in on the request path (3.3 times as many page
//     faults in the benchmark). The queue grows by doubling when full, so
//     a smaller start refuses nothing.
//
// Together they took the loopback round trip of a remote UpdateActor
// from 91 µs to 55 µs at the median (ten processes each), and
// protoactor's bare request-reply (an echo actor) from 69 µs to 50 µs;
// in the benchmark's seven-run medians, 104 to 70 µs and 77 to 53 µs.
// What is left is protoactor's own goroutine hand-offs, which no option
// reaches.
const (
	remoteWindowSize        = 4 << 20
	endpointWriterQueueSize = 1024
)

// WithRemote makes the node reachable from other processes through
// protoactor remote: its actors' PIDs carry the node's Address, and
// actor.NewPID(address, id) reaches them from elsewhere. NewNode panics
// if remote cannot start (a refused configuration, a port in use):
// StartNode returns the error instead.
func WithRemote(c RemoteConfig) Option {
	return func(nc *nodeConfig) { nc.remote = &c }
}

// network is a node's remote side.
type network struct {
	remote *remote.Remote
	access *access
}

// Address returns the host:port other processes reach the node's actors
// at, which its PIDs carry; without remote, protoactor's local address
// ("nonhost").
func (n *Node) Address() string { return n.system.Address() }

// Remote returns the node's protoactor remote, or nil without WithRemote.
func (n *Node) Remote() *remote.Remote {
	if n.net == nil {
		return nil
	}
	return n.net.remote
}

// startRemote starts remote on the node's system as c says; nil c leaves
// the node local.
func (n *Node) startRemote(c *RemoteConfig) (err error) {
	if c == nil {
		return nil
	}
	acc, err := newAccess(n, c)
	if err != nil {
		return err
	}
	host := c.Host
	if host == "" {
		host = DefaultRemoteHost
	}
	// molt's tuning first, so that an option in c.Options overrides it.
	opts := append([]remote.ConfigOption{remote.WithEndpointWriterQueueSize(endpointWriterQueueSize)}, c.Options...)
	cfg := remote.Configure(host, c.Port, opts...)
	cfg.ServerOptions = append([]grpc.ServerOption{
		grpc.InitialWindowSize(remoteWindowSize),
		grpc.InitialConnWindowSize(remoteWindowSize),
	}, cfg.ServerOptions...)
	cfg.DialOptions = append([]grpc.DialOption{
		grpc.WithInitialWindowSize(remoteWindowSize),
		grpc.WithInitialConnWindowSize(remoteWindowSize),
	}, cfg.DialOptions...)
	if c.AdvertisedHost != "" {
		cfg.AdvertisedHost = c.AdvertisedHost
	}
	var creds credentials.TransportCredentials = insecure.NewCredentials()
	if c.TLS != nil {
		creds = &loggedHandshake{TransportCredentials: credentials.NewTLS(c.TLS), access: acc}
	}
	// Appended: grpc.Creds is last-wins, and the chained interceptors
	// compose with any the caller set, so molt's checks cannot be
	// replaced by an option in c.Options.
	cfg.ServerOptions = append(cfg.ServerOptions,
		grpc.Creds(creds),
		grpc.ChainStreamInterceptor(acc.stream),
		grpc.ChainUnaryInterceptor(acc.unary))
	dial := insecure.NewCredentials()
	if c.DialTLS != nil {
		dial = credentials.NewTLS(c.DialTLS)
	}
	cfg.DialOptions = append(cfg.DialOptions, grpc.WithTransportCredentials(dial))
	if c.Token != "" {
		cfg.DialOptions = append(cfg.DialOptions, grpc.WithPerRPCCredentials(bearer(c.Token)))
	}
	r := remote.NewRemote(n.system, cfg)
	// protoactor's Start panics when it cannot listen, or when its
	// endpoint actors do not start.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("molt: remote did not start on %s: %v", cfg.Address(), p)
		}
	}()
	r.Start()
	n.net = &network{remote: r, access: acc}
	return nil
}

// stopRemote stops remote, if it runs: connections are told to close,
// the endpoint actors stop, and the gRPC server waits for its streams.
func (n *Node) stopRemote() {
	if n.net == nil {
		return
	}
	remotestop.Graceful(n.net.remote)
}

// isLoopbackHost says whether host names this machine only.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// bearer presents a token on every stream this node opens to another.
type bearer string

func (b bearer) GetRequestMetadata(ctx context.Context, uri ...string) (map[string]string, error) {
	ri, _ := credentials.RequestInfoFromContext(ctx)
	if credentials.CheckSecurityLevel(ri.AuthInfo, credentials.PrivacyAndIntegrity) != nil {
		// Plain text: only a peer on this machine may see the token.
		for _, u := range uri {
			p, err := url.Parse(u)
			if err != nil || !isLoopbackHost(p.Hostname()) {
				return nil, fmt.Errorf("molt: the bearer token is not sent in plain text to %s: set RemoteConfig.DialTLS", u)
			}
		}
	}
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity is false so that loopback works in plain text;
// GetRequestMetadata keeps the token off plain text to any other host.
func (bearer) RequireTransportSecurity() bool { return false }

// remoteStartError is how NewNode, which returns no error, hands a remote
// that did not start to StartNode.
type remoteStartError struct{ err error }

// StartNode is NewNode returning an error instead of panicking when
// WithRemote cannot start: a refused configuration (wrapping
// ErrRemoteConfig), a port in use. Nothing is left running then.
func StartNode(catalog *registry.Catalog, options ...Option) (n *Node, err error) {
	defer func() {
		if p := recover(); p != nil {
			e, ok := p.(remoteStartError)
			if !ok {
				panic(p)
			}
			n, err = nil, e.err
		}
	}()
	return NewNode(catalog, options...), nil
}

func (e remoteStartError) Error() string { return e.err.Error() }
