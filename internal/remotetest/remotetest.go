// Package remotetest holds what molt's remote tests, its two-process test
// binary and the remote benchmark share: a kind whose messages are
// protobuf (so that they cross processes), self-signed certificates, and
// a logger that keeps what it is given.
package remotetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Kind is the kind Catalog registers: a tally, at versions 1 and 2 (a
// different state shape, with migrations both ways), and 3, which the
// migration from 1 refuses to reach (an abort in state transfer).
const Kind = "tally"

// ErrMigration is the error the migration to version 3 fails with.
var ErrMigration = errors.New("tally: version 3 refuses this state")

// An *wrapperspb.Int64Value adds to the tally; an *wrapperspb.StringValue
// asks for it, answered with an *wrapperspb.Int64Value. Both are protobuf,
// which is all protoactor remote carries.

// TallyV1 is version 1.
type TallyV1 struct{ N int64 }

func (t *TallyV1) Receive(ctx pa.Context) { t.N = tally(ctx, t.N) }

// TallyV2 keeps the tally under another name, so that a migration must
// carry it.
type TallyV2 struct{ Sum int64 }

func (t *TallyV2) Receive(ctx pa.Context) { t.Sum = tally(ctx, t.Sum) }

// TallyV3 is never reached from version 1.
type TallyV3 struct{ N int64 }

func (t *TallyV3) Receive(ctx pa.Context) { t.N = tally(ctx, t.N) }

func tally(ctx pa.Context, n int64) int64 {
	switch m := ctx.Message().(type) {
	case *wrapperspb.Int64Value:
		n += m.GetValue()
	case *wrapperspb.StringValue:
		ctx.Respond(wrapperspb.Int64(n))
	}
	return n
}

// Catalog returns a catalogue with Kind's three versions.
func Catalog() (*registry.Catalog, error) {
	cat := registry.New()
	return cat, errors.Join(
		registry.Register(cat, Kind, 1, func() *TallyV1 { return &TallyV1{} }),
		registry.Register(cat, Kind, 2, func() *TallyV2 { return &TallyV2{} }),
		registry.Register(cat, Kind, 3, func() *TallyV3 { return &TallyV3{} }),
		registry.Migrate(cat, Kind, 1, 2, func(old *TallyV1) (*TallyV2, error) { return &TallyV2{Sum: old.N}, nil }),
		registry.Migrate(cat, Kind, 2, 1, func(old *TallyV2) (*TallyV1, error) { return &TallyV1{N: old.Sum}, nil }),
		registry.Migrate(cat, Kind, 1, 3, func(*TallyV1) (*TallyV3, error) { return nil, ErrMigration }),
	)
}

// Cert is a self-signed certificate for 127.0.0.1 and ::1, good for a
// server and a client, and the pool that trusts it.
type Cert struct {
	TLS  tls.Certificate
	Pool *x509.CertPool
}

// NewCert makes a self-signed certificate whose subject common name is
// name.
func NewCert(name string) (*Cert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &Cert{TLS: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, Pool: pool}, nil
}

// Server is a server TLS config with c's certificate; with mutual,
// clients must present a certificate that one of trusted signed.
func (c *Cert) Server(mutual bool, trusted ...*Cert) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{c.TLS}, MinVersion: tls.VersionTLS12}
	if mutual {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = x509.NewCertPool()
		for _, t := range trusted {
			cfg.ClientCAs.AddCert(t.TLS.Leaf)
		}
	}
	return cfg
}

// Client is a client TLS config that trusts server, presenting c's
// certificate.
func (c *Cert) Client(server *Cert) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.TLS}, RootCAs: server.Pool, MinVersion: tls.VersionTLS12}
}

// Log keeps the records of the loggers it makes, for tests to look at.
type Log struct {
	mu      sync.Mutex
	records []string
	changed chan struct{}
}

// NewLog returns an empty log.
func NewLog() *Log { return &Log{changed: make(chan struct{})} }

// Factory is for pa.WithLoggerFactory.
func (l *Log) Factory(*pa.ActorSystem) *slog.Logger {
	return slog.New(&handler{log: l})
}

// Wait returns the first record, as "message key=value ...", that holds
// every one of parts, waiting for one until ctx ends.
func (l *Log) Wait(ctx context.Context, parts ...string) (string, error) {
	for {
		l.mu.Lock()
		for _, r := range l.records {
			if containsAll(r, parts) {
				l.mu.Unlock()
				return r, nil
			}
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return "", fmt.Errorf("no log record holds all of %q: %w", parts, ctx.Err())
		}
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func (l *Log) add(r string) {
	l.mu.Lock()
	l.records = append(l.records, r)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

type handler struct {
	log   *Log
	attrs []slog.Attr
}

func (h *handler) Enabled(context.Context, slog.Level) bool { return true }

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	write := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	h.log.add(b.String())
	return nil
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{log: h.log, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

// WithGroup is flat: the tests look for values, not for structure.
func (h *handler) WithGroup(string) slog.Handler { return h }
