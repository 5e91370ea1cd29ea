// Command kvstore is a key-value service whose keys are sharded over molt
// actors, to be updated live while it serves.
//
// Keys are spread by a stable hash over N shard actors (kind kvshard,
// named kv-shard-0 ...). Version 1 of a shard keeps plain values; version
// 2 gives them an expiry and serves TTLs; version 3, which the next
// release runs (built with -tags kvstore_next), also keeps when each key
// was written. Every shard persists its state before it acknowledges a
// write (a bbolt file in -data), and starts from it. The HTTP API:
//
//	GET    /kv/{key}            the value (404 if absent)
//	PUT    /kv/{key}[?ttl=30s]  store the body; 200 once the shard applied it
//	DELETE /kv/{key}
//	GET    /kv?prefix=p[&limit=n] keys with a prefix, in order, at most n (100; 1000 at most)
//	GET    /ttl/{key}           when the key expires (version 2)
//	GET    /debug/shards        each shard's version and key count
//	GET    /metrics             Prometheus text format
//
// A TTL request that reaches a shard on version 1 is refused with 409.
//
//	go run ./examples/kvstore [-addr 127.0.0.1:8080] [-shards 16] [-data DIR]
//
// The next release takes over every shard from a running one, under load,
// and then serves on the same port:
//
//	go build -tags kvstore_next -o kvstore-next ./examples/kvstore
//	./kvstore-next -remote 127.0.0.1:8091 -takeover 127.0.0.1:8090
//
// See README.md for a walkthrough: load, a rollout to version 2 under load,
// a TTL, a takeover by the next release under load, a kill -9.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/admin"
	"github.com/molt-go/molt/persist"
	"github.com/molt-go/molt/persist/boltstore"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/takeover"
	"github.com/molt-go/molt/update/manager"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kvstore:", err)
		os.Exit(1)
	}
}

// Config is what the flags set.
type Config struct {
	// Addr is where the HTTP API listens; port 0 picks a free one (the
	// address bound is printed).
	Addr string
	// Shards is the number of shard actors.
	Shards int
	// Version is the version the shards start at.
	Version uint32
	// Timeout bounds each request to a shard. It must outlast an update's
	// hold (UpdateDeadline), or a request held by an update would fail.
	Timeout time.Duration
	// UpdateDeadline is each shard's update deadline in a rollout.
	UpdateDeadline time.Duration
	// RolloutAfter, if set, moves every shard to version 2 that long after
	// the start: a demo and test flag; `molt apply` does the same from a
	// terminal.
	RolloutAfter time.Duration
	// Remote, if set, is where the molt node listens for other processes
	// (host:port, port 0 for any free one): the `molt` CLI reaches the
	// admin service there, and a new process takes over from this one
	// there. A loopback address admits loopback peers only
	// (docs/operating.md, access control). Empty: no remote.
	Remote string

	// Next runs the next release of the shards (version 3, RegisterNext)
	// rather than the current one (versions 1 and 2, Register). The
	// binary's build tag sets it (kvstore_next); tests set it by hand.
	Next bool
	// Data is the directory of the shards' store, the bbolt file
	// shards.db; empty keeps the snapshots in memory (nothing survives
	// the process).
	Data string
	// OpenTimeout bounds the wait for the store's file while another
	// process holds it: at a start, or after a takeover until the old
	// process has closed it.
	OpenTimeout time.Duration
	// Takeover, if set, is the remote address (host:port) of a running
	// kvstore to take every shard over from before serving; Addr must
	// then be its HTTP address, which both share (SO_REUSEPORT) until the
	// old one stops listening.
	Takeover string
	// TakeoverBatch is how many shards move in one batch of a takeover.
	TakeoverBatch int
	// Linger is how long this process goes on forwarding, after another
	// took it over and it stopped listening, before it exits.
	Linger time.Duration
}

// takeoverBound bounds a whole takeover (takeover.Run's context): a
// takeover still running then stops starting batches.
const takeoverBound = time.Minute

// listenOverlap is how long a process that was taken over keeps accepting
// connections after the takeover finished, so that the new process, which
// listens on the same port once its takeover.Run returned, is listening
// before this one stops: a client that connects in between is never
// refused. The requests it accepts meanwhile go to the moved shards.
const listenOverlap = 250 * time.Millisecond

func parseFlags(args []string, errOut io.Writer) (Config, error) {
	fs := flag.NewFlagSet("kvstore", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var cfg Config
	var version uint
	cfg.Next = nextRelease
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "HTTP address to listen on (port 0: any free port)")
	fs.IntVar(&cfg.Shards, "shards", 16, "number of shard actors")
	if cfg.Next {
		fs.UintVar(&version, "version", 3, "version the shards start at (this release runs 3)")
	} else {
		fs.UintVar(&version, "version", 1, "version the shards start at (1 or 2)")
	}
	fs.StringVar(&cfg.Data, "data", filepath.Join(os.TempDir(), "molt-kvstore"),
		"directory of the shards' store (the bbolt file shards.db); empty: in memory, nothing survives")
	fs.DurationVar(&cfg.OpenTimeout, "open-timeout", 10*time.Second, "bound on the wait for the store's file while another process holds it")
	fs.StringVar(&cfg.Takeover, "takeover", "", "take every shard over from the running kvstore whose molt remote is at this host:port, then serve on -addr (its HTTP address)")
	fs.IntVar(&cfg.TakeoverBatch, "takeover-batch", 4, "shards moved in one batch of a takeover")
	fs.DurationVar(&cfg.Linger, "linger", time.Second, "after being taken over and closing its listener, how long this process forwards before it exits")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Second, "bound on each request to a shard")
	fs.DurationVar(&cfg.UpdateDeadline, "update-deadline", time.Second, "each shard's update deadline in a rollout")
	fs.DurationVar(&cfg.RolloutAfter, "rollout-after", 0,
		"demo: move every shard to version 2 this long after the start (0: never); `molt apply` does it by hand")
	fs.StringVar(&cfg.Remote, "remote", "127.0.0.1:8090", "where the molt node listens for the molt CLI (host:port; empty: nowhere)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected arguments: %v", fs.Args())
		fmt.Fprintln(errOut, err)
		return cfg, err
	}
	cfg.Version = uint32(version)
	return cfg, nil
}

func (c Config) validate() error {
	switch {
	case c.Shards < 1 || c.Shards > 4096:
		return fmt.Errorf("-shards %d: want 1 to 4096", c.Shards)
	case !c.Next && c.Version != 1 && c.Version != 2:
		return fmt.Errorf("-version %d: want 1 or 2 (version 3 comes with the next release, built with -tags kvstore_next)", c.Version)
	case c.Next && c.Version != 3:
		return fmt.Errorf("-version %d: this release runs version 3 only (it reads the states of 1 and 2)", c.Version)
	case c.Timeout <= c.UpdateDeadline:
		return fmt.Errorf("-timeout %v must be longer than -update-deadline %v: a request held by an update would fail", c.Timeout, c.UpdateDeadline)
	case c.UpdateDeadline <= 0:
		return fmt.Errorf("-update-deadline %v: want a positive duration", c.UpdateDeadline)
	case c.RolloutAfter < 0:
		return fmt.Errorf("-rollout-after %v: want 0 (never) or a positive duration", c.RolloutAfter)
	case c.RolloutAfter > 0 && c.Next:
		return fmt.Errorf("-rollout-after: the next release runs version 3 only; it has no version to roll out to")
	case c.Takeover != "" && c.Remote == "":
		return fmt.Errorf("-takeover needs -remote: the takeover runs over molt remote")
	case c.Takeover != "" && c.TakeoverBatch < 1:
		return fmt.Errorf("-takeover-batch %d: want at least 1", c.TakeoverBatch)
	case c.Linger < 0:
		return fmt.Errorf("-linger %v: want 0 or a positive duration", c.Linger)
	}
	if c.Takeover != "" {
		if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "0" || port == "" {
			return fmt.Errorf("-addr %q: with -takeover, give the HTTP address the old process listens on, port included", c.Addr)
		}
	}
	return nil
}

// run serves until ctx ends, then shuts down: the HTTP server first
// (requests in flight are answered), then the actors.
func run(ctx context.Context, cfg Config, out io.Writer) error {
	svc, err := start(cfg, out)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "kvstore: shutting down")
	case <-svc.handedOver:
		fmt.Fprintln(out, "kvstore: handed over; exiting")
	}
	return svc.Close()
}

// service is a running kvstore.
type service struct {
	cfg    Config
	out    io.Writer
	node   *molt.Node
	mgr    *manager.Manager
	shards *shards
	meters *sdkmetric.MeterProvider
	ln     net.Listener
	http   *http.Server
	store  persist.Store
	source *takeover.Source // this node's takeover service, if it has remote

	stopOperator  func() // what operatorServices started
	served        chan error
	started       chan struct{} // closed once start returned the service
	handedOver    chan struct{} // closed once another process took over and this one may exit
	httpOnce      sync.Once
	httpErr       error
	takeoverBegan time.Time
	rollouts      atomic.Uint64 // package ids
	bg            sync.WaitGroup
	cancelBg      context.CancelFunc
	closeOnce     sync.Once
	closeErr      error
}

// start starts a kvstore and returns once it listens. With
// Config.Takeover it first takes every shard over from the running kvstore
// there.
func start(cfg Config, out io.Writer) (_ *service, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cat := registry.New()
	register := Register
	if cfg.Next {
		register = RegisterNext
	}
	if err := register(cat); err != nil {
		return nil, err
	}

	// The molt node's metrics and the API's go to one Prometheus registry
	// of our own, not the process-wide default, so that two services in
	// one process (the tests) do not collide.
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("the Prometheus exporter: %w", err)
	}
	meters := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))

	svc := &service{cfg: cfg, out: out, meters: meters, served: make(chan error, 1),
		started: make(chan struct{}), handedOver: make(chan struct{})}
	defer func() {
		if err != nil {
			svc.Close()
		}
	}()

	// The store. A process that takes over cannot open the file yet (bbolt
	// lets one process hold it, and the old one does until its shards have
	// moved): its node gets a Handoff, whose calls wait until the file is
	// handed over. A moved shard that persists a write meanwhile waits, and
	// acknowledges nothing before it is durable.
	var handoff *persist.Handoff
	if cfg.Takeover != "" {
		handoff = persist.NewHandoff()
		svc.store = handoff
	} else if svc.store, err = openStore(cfg, out); err != nil {
		return nil, err
	}
	opts := []molt.Option{molt.WithMeterProvider(meters), molt.WithStore(svc.store)}
	if cfg.Remote != "" {
		rc, err := remoteConfig(cfg.Remote)
		if err != nil {
			return nil, err
		}
		opts = append(opts, molt.WithRemote(rc))
	}
	if svc.node, err = molt.StartNode(cat, opts...); err != nil {
		return nil, fmt.Errorf("the molt node: %w", err)
	}

	// The manager is named so that another process can reach it by name
	// once the node listens for other processes.
	svc.mgr, err = manager.SpawnConfig(svc.node, manager.Config{Name: manager.DefaultName})
	if err != nil {
		return nil, err
	}

	// >>> OPERATOR SERVICES: the one place where remote's services are
	// started, one call each; see operatorServices. They run before the
	// shards, so that `molt` can follow a takeover as it happens.
	svc.stopOperator, svc.source, err = operatorServices(svc.node, svc.mgr, out, svc.handOver)
	if err != nil {
		return nil, err
	}

	if cfg.Takeover != "" {
		if err := svc.takeOver(); err != nil {
			handoff.Fail(err)
			return nil, err
		}
	} else {
		svc.shards = shardsOf(svc.node, cfg.Shards)
		if err := svc.shards.spawn(svc.node, cfg.Version); err != nil {
			return nil, err
		}
	}

	mux := http.NewServeMux()
	newAPI(svc.shards, cfg.Timeout, meters).routes(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	svc.ln, err = listen(cfg.Addr, cfg.Takeover != "")
	if err != nil {
		return nil, err
	}
	svc.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { svc.served <- svc.http.Serve(svc.ln) }()

	if cfg.Takeover != "" {
		// The old process closes the file as its takeover finishes; open
		// it (waiting for the lock, at most OpenTimeout) and hand it to
		// the shards, whose writes then go on. A shard that did not move
		// starts here from its snapshot.
		store, err := openStore(cfg, out)
		if err != nil {
			handoff.Fail(err)
			return nil, err
		}
		handoff.Ready(store)
		fmt.Fprintf(out, "kvstore: store handed over %v after the takeover began\n", time.Since(svc.takeoverBegan).Round(time.Microsecond))
		if err := svc.shards.spawn(svc.node, cfg.Version); err != nil {
			return nil, err
		}
	}
	// Tests and scripts read the address from this line: keep its form.
	fmt.Fprintf(out, "kvstore: listening on http://%s (%d shards of kind %s at version %d)\n",
		svc.ln.Addr(), cfg.Shards, Kind, cfg.Version)

	bg, cancel := context.WithCancel(context.Background())
	svc.cancelBg = cancel
	if cfg.RolloutAfter > 0 {
		svc.bg.Add(1)
		go func() {
			defer svc.bg.Done()
			svc.rolloutAfter(bg, cfg.RolloutAfter)
		}()
	}
	close(svc.started)
	return svc, nil
}

// openStore opens the shards' store: the bbolt file shards.db in
// cfg.Data, or memory when cfg.Data is empty.
func openStore(cfg Config, out io.Writer) (persist.Store, error) {
	if cfg.Data == "" {
		fmt.Fprintln(out, "kvstore: store in memory (-data empty): nothing survives the process")
		return persist.Memory(), nil
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("-data: %w", err)
	}
	path := filepath.Join(cfg.Data, "shards.db")
	begun := time.Now()
	s, err := boltstore.Open(path, boltstore.WithOpenTimeout(cfg.OpenTimeout))
	if err != nil {
		return nil, fmt.Errorf("the store: %w", err)
	}
	// Tests and scripts read the path from this line: keep its form.
	fmt.Fprintf(out, "kvstore: store %s (opened in %v)\n", path, time.Since(begun).Round(time.Microsecond))
	return s, nil
}

// operatorServices starts what lets other processes reach the node, and
// returns what stops it.
//
// operatorServices starts the admin service on the node, under its
// well-known name, so that the `molt` CLI can list the shards, apply
// packages and roll them back; and the takeover service, so that a new
// process can take the shards over (onFinish is called when one did). The
// node's remote (started with the node, Config.Remote) is how they get
// there, and its access control decides who may.
func operatorServices(node *molt.Node, mgr *manager.Manager, out io.Writer, onFinish func(*takeover.Finished)) (stop func(), src *takeover.Source, err error) {
	if node.Remote() == nil {
		return func() {}, nil, nil
	}
	a, err := admin.Spawn(node, mgr, admin.Config{})
	if err != nil {
		return nil, nil, fmt.Errorf("the admin service: %w", err)
	}
	if src, err = takeover.Serve(node, onFinish); err != nil {
		a.Stop()
		return nil, nil, fmt.Errorf("the takeover service: %w", err)
	}
	// Tests and scripts read the address from this line: keep its form.
	fmt.Fprintf(out, "kvstore: molt admin on %s (molt --node %s ls)\n", node.Address(), node.Address())
	return func() {
		src.Stop()
		a.Stop()
	}, src, nil
}

// remoteConfig reads -remote's host:port.
func remoteConfig(hostPort string) (molt.RemoteConfig, error) {
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return molt.RemoteConfig{}, fmt.Errorf("-remote %q: want host:port: %w", hostPort, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return molt.RemoteConfig{}, fmt.Errorf("-remote %q: the port must be a number from 0 to 65535", hostPort)
	}
	return molt.RemoteConfig{Host: host, Port: p}, nil
}

// URL is the base URL of the HTTP API.
func (s *service) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the service: no new requests, those in flight answered
// (for at most 10 s), then the rollout in progress cancelled, the operator
// services, the manager and the node stopped, the store closed.
func (s *service) Close() error {
	s.closeOnce.Do(func() {
		errs := []error{s.stopHTTP()}
		if s.cancelBg != nil {
			s.cancelBg()
			s.bg.Wait()
		}
		if s.stopOperator != nil {
			s.stopOperator()
		}
		if s.mgr != nil {
			s.mgr.Stop()
		}
		if s.node != nil {
			s.node.Shutdown()
		}
		if s.store != nil {
			// Closed already if another process took over.
			if err := s.store.Close(); err != nil && !errors.Is(err, persist.ErrClosed) {
				errs = append(errs, err)
			}
		}
		errs = append(errs, s.meters.Shutdown(context.Background()))
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// stopHTTP stops accepting connections and waits, at most 10 s, for the
// requests in flight to be answered.
func (s *service) stopHTTP() error {
	s.httpOnce.Do(func() {
		if s.http == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := s.http.Shutdown(ctx)
		if serr := <-s.served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		s.httpErr = err
	})
	return s.httpErr
}

func (s *service) rolloutAfter(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case <-t.C:
	}
	fmt.Fprintf(s.out, "kvstore: -rollout-after %v: moving every shard to version 2\n", d)
	if _, err := s.rollout(ctx, 2); err != nil {
		fmt.Fprintf(s.out, "kvstore: rollout to version 2 failed: %v\n", err)
	}
}
