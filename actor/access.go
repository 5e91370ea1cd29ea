package actor

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/molt-go/molt/update"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// ErrRefused is wrapped by the errors Authorize returns, and named in the
// reason of an update refused to another process.
var ErrRefused = errors.New("molt: refused")

// Origin is where a message from another process came from, as the
// connection it arrived on was authenticated: not what the sender claims
// in the message (its sender PID's address is the peer's word alone).
type Origin struct {
	// Address is the peer's network address, host:port, as the node's
	// end of the connection saw it.
	Address string
	// Credential is what admitted the connection: "loopback" (a peer on
	// this machine, when no credential is configured), "token" (a bearer
	// token) or "certificate" (a client certificate, mutual TLS).
	Credential string
	// Name is the token's name in RemoteConfig.Tokens, or the client
	// certificate's subject common name; empty for loopback.
	Name string
}

func (o Origin) String() string {
	if o.Name == "" {
		return fmt.Sprintf("%s (%s)", o.Address, o.Credential)
	}
	return fmt.Sprintf("%s (%s %q)", o.Address, o.Credential, o.Name)
}

// The origin travels in the message header. The node's gRPC server writes
// it on every message from another process, after removing any header of
// these names the peer sent, so a message without it was sent in process.
const (
	originPrefix     = "molt-origin-"
	headerAddress    = originPrefix + "address"
	headerCredential = originPrefix + "credential"
	headerName       = originPrefix + "name"
)

// OriginOf returns the origin of the message ctx is delivering, and false
// if it was sent in this process.
func OriginOf(ctx pa.Context) (Origin, bool) {
	h := ctx.MessageHeader()
	if h == nil {
		return Origin{}, false
	}
	addr := h.Get(headerAddress)
	if addr == "" {
		return Origin{}, false
	}
	return Origin{Address: addr, Credential: h.Get(headerCredential), Name: h.Get(headerName)}, true
}

// Authorize says whether the message ctx is delivering may act on this
// node: nil for a message sent in this process, or for one from another
// process whose origin the node's RemoteConfig.Allow accepts. Otherwise it
// logs the refusal on the actor system's logger, with the origin, and
// returns an error wrapping ErrRefused and Allow's reason. A receiver of
// requests that change the node (an admin service, the update manager)
// calls it first, and answers with the error instead of acting.
func Authorize(ctx pa.Context) error {
	o, remote := OriginOf(ctx)
	if !remote {
		return nil
	}
	return NodeOf(ctx).authorize(ctx, o)
}

func (n *Node) authorize(ctx pa.Context, o Origin) error {
	var why error
	switch {
	case n == nil || n.net == nil:
		// The header says another process, but no molt remote runs
		// here to have written it: nothing says whom to allow.
		why = errors.New("no node with molt's remote access control runs on this actor system")
	case n.net.access.allow != nil:
		why = n.net.access.allow(o)
	}
	if why == nil {
		return nil
	}
	err := fmt.Errorf("%w: %T from %v: %w", ErrRefused, ctx.Message(), o, why)
	ctx.Logger().Warn("molt: remote request refused",
		slog.String("origin", o.Address), slog.String("credential", o.Credential), slog.String("name", o.Name),
		slog.String("message", fmt.Sprintf("%T", ctx.Message())), slog.String("actor", ctx.Self().GetId()),
		slog.String("reason", why.Error()))
	return err
}

// refused answers and drops a control message from another process that
// the node does not allow: the update is rejected before it is looked at.
func (h *host) refused(ctx pa.Context) bool {
	var req *update.UpdateActor
	switch m := ctx.Message().(type) {
	case *update.UpdateActor:
		req = m
	case *update.CommitUpdate:
		req = &update.UpdateActor{UpdateId: m.GetUpdateId()}
	case *update.AbortUpdate:
		req = &update.UpdateActor{UpdateId: m.GetUpdateId()}
	default:
		return false
	}
	o, remote := OriginOf(ctx)
	if !remote {
		return false
	}
	err := h.node.authorize(ctx, o)
	if err == nil {
		return false
	}
	if ctx.Sender() != nil {
		ctx.Respond(h.refusal(ctx, req, err.Error()))
	}
	return true
}

// access is a node's remote admission: who may connect, and the policy
// for control messages.
type access struct {
	node   *Node
	tokens []token
	certs  bool // the TLS handshake requires and verifies client certificates
	allow  func(Origin) error
}

// token is kept as a digest: comparing digests of equal length takes the
// same time whatever the presented token's length or content.
type token struct {
	name   string
	digest [sha256.Size]byte
}

func newAccess(n *Node, c *RemoteConfig) (*access, error) {
	a := &access{node: n, allow: c.Allow}
	for name, t := range c.Tokens {
		if name == "" {
			return nil, fmt.Errorf("%w: a token in RemoteConfig.Tokens has no name", ErrRemoteConfig)
		}
		if len(t) < MinTokenLength {
			return nil, fmt.Errorf("%w: token %q is %d bytes; at least %d (MinTokenLength) are needed", ErrRemoteConfig, name, len(t), MinTokenLength)
		}
		a.tokens = append(a.tokens, token{name: name, digest: sha256.Sum256([]byte(t))})
	}
	a.certs = c.TLS != nil && c.TLS.ClientAuth == tls.RequireAndVerifyClientCert
	host := c.Host
	if host == "" {
		host = DefaultRemoteHost
	}
	if !isLoopbackHost(host) {
		if c.TLS == nil {
			return nil, fmt.Errorf("%w: listening on %q, which other machines can reach, requires RemoteConfig.TLS: in plain text any process on the network could read the traffic and send any message to any actor", ErrRemoteConfig, host)
		}
		if len(a.tokens) == 0 && !a.certs {
			return nil, fmt.Errorf("%w: listening on %q requires a credential for peers: RemoteConfig.Tokens, or a TLS config with ClientAuth tls.RequireAndVerifyClientCert and ClientCAs", ErrRemoteConfig, host)
		}
	}
	return a, nil
}

// admit authenticates a connection's stream; the origin has the peer's
// address even when it is refused, for the log.
func (a *access) admit(ctx context.Context) (Origin, error) {
	o := Origin{Address: "unknown"}
	p, ok := peer.FromContext(ctx)
	if ok && p.Addr != nil {
		o.Address = p.Addr.String()
	}
	if len(a.tokens) > 0 {
		md, _ := metadata.FromIncomingContext(ctx)
		vals := md.Get("authorization")
		if len(vals) == 0 {
			return o, errors.New("no bearer token was presented")
		}
		if len(vals) > 1 {
			return o, errors.New("several authorization values were presented")
		}
		t, isBearer := strings.CutPrefix(vals[0], "Bearer ")
		if !isBearer {
			return o, errors.New("the authorization presented is not a bearer token")
		}
		d := sha256.Sum256([]byte(t))
		found := -1
		for i := range a.tokens {
			if subtle.ConstantTimeCompare(d[:], a.tokens[i].digest[:]) == 1 {
				found = i
			}
		}
		if found < 0 {
			return o, errors.New("the bearer token presented is not one of this node's")
		}
		o.Credential, o.Name = "token", a.tokens[found].name
		return o, nil
	}
	if a.certs {
		info, isTLS := p.AuthInfo.(credentials.TLSInfo)
		if !isTLS || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
			return o, errors.New("no verified client certificate was presented")
		}
		o.Credential, o.Name = "certificate", info.State.VerifiedChains[0][0].Subject.CommonName
		return o, nil
	}
	if tcp, isTCP := p.Addr.(*net.TCPAddr); !isTCP || !tcp.IP.IsLoopback() {
		return o, errors.New("without a credential configured, only peers on a loopback address are admitted")
	}
	o.Credential = "loopback"
	return o, nil
}

// stream admits or refuses protoactor's one stream per peer connection.
// An admitted stream's messages carry their origin in their header.
func (a *access) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	o, err := a.admit(ss.Context())
	if err != nil {
		a.refuseConnection(o.Address, info.FullMethod, err)
		return status.Error(codes.Unauthenticated, "molt: refused: "+err.Error())
	}
	return handler(srv, &stamping{ServerStream: ss, origin: o})
}

// unary refuses protoactor's unary methods: they are unimplemented and
// panic, and a panic in a gRPC handler ends the process.
func (a *access) unary(ctx context.Context, _ any, info *grpc.UnaryServerInfo, _ grpc.UnaryHandler) (any, error) {
	o, err := a.admit(ctx)
	if err == nil {
		err = errors.New("the method is not served")
	}
	a.refuseConnection(o.Address, info.FullMethod, err)
	return nil, status.Error(codes.Unimplemented, "molt: refused: "+err.Error())
}

func (a *access) refuseConnection(addr, method string, why error) {
	a.node.system.Logger().Warn("molt: remote connection refused",
		slog.String("origin", addr), slog.String("method", method), slog.String("reason", why.Error()))
}

// stamping writes the stream's origin into the header of every message
// that arrives on it, over whatever the peer put under the same names.
type stamping struct {
	grpc.ServerStream
	origin Origin
}

func (s *stamping) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	rm, ok := m.(*remote.RemoteMessage)
	if !ok {
		return nil
	}
	for _, e := range rm.GetMessageBatch().GetEnvelopes() {
		// A map per message: protoactor hands it to the receiver as
		// the envelope's header, which may be changed there.
		h := make(map[string]string, len(e.GetMessageHeader().GetHeaderData())+3)
		for k, v := range e.GetMessageHeader().GetHeaderData() {
			if !strings.HasPrefix(k, originPrefix) {
				h[k] = v
			}
		}
		h[headerAddress], h[headerCredential], h[headerName] = s.origin.Address, s.origin.Credential, s.origin.Name
		e.MessageHeader = &remote.MessageHeader{HeaderData: h}
	}
	return nil
}

// loggedHandshake logs the TLS handshakes that fail, with the peer's
// address: a plain-text or untrusted client is refused there, before any
// interceptor runs.
type loggedHandshake struct {
	credentials.TransportCredentials
	access *access
}

func (l *loggedHandshake) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	c, info, err := l.TransportCredentials.ServerHandshake(conn)
	if err != nil {
		l.access.refuseConnection(conn.RemoteAddr().String(), "TLS handshake", err)
	}
	return c, info, err
}

func (l *loggedHandshake) Clone() credentials.TransportCredentials {
	return &loggedHandshake{TransportCredentials: l.TransportCredentials.Clone(), access: l.access}
}
