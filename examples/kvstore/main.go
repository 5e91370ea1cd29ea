// Command kvstore is a key-value service whose keys are sharded over molt
// actors, to be updated live while it serves.
//
// Keys are spread by a stable hash over N shard actors (kind kvshard,
// named kv-shard-0 ...). Version 1 of a shard keeps plain values; version
// 2 gives them an expiry and serves TTLs. The HTTP API:
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
//	go run ./examples/kvstore [-addr 127.0.0.1:8080] [-shards 16]
//
// See README.md for a walkthrough: load, a rollout to version 2 under load,
// a TTL.
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
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/admin"
	"github.com/molt-go/molt/registry"
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
	// admin service there. A loopback address admits loopback peers only
	// (docs/operating.md, access control). Empty: no remote.
	Remote string
}

func parseFlags(args []string, errOut io.Writer) (Config, error) {
	fs := flag.NewFlagSet("kvstore", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var cfg Config
	var version uint
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "HTTP address to listen on (port 0: any free port)")
	fs.IntVar(&cfg.Shards, "shards", 16, "number of shard actors")
	fs.UintVar(&version, "version", 1, "version the shards start at (1 or 2)")
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
	case c.Version != 1 && c.Version != 2:
		return fmt.Errorf("-version %d: want 1 or 2", c.Version)
	case c.Timeout <= c.UpdateDeadline:
		return fmt.Errorf("-timeout %v must be longer than -update-deadline %v: a request held by an update would fail", c.Timeout, c.UpdateDeadline)
	case c.UpdateDeadline <= 0:
		return fmt.Errorf("-update-deadline %v: want a positive duration", c.UpdateDeadline)
	case c.RolloutAfter < 0:
		return fmt.Errorf("-rollout-after %v: want 0 (never) or a positive duration", c.RolloutAfter)
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
	<-ctx.Done()
	fmt.Fprintln(out, "kvstore: shutting down")
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

	stopOperator func() // what operatorServices started
	served       chan error
	rollouts     atomic.Uint64 // package ids
	bg           sync.WaitGroup
	cancelBg     context.CancelFunc
	closeOnce    sync.Once
	closeErr     error
}

// start starts a kvstore and returns once it listens.
func start(cfg Config, out io.Writer) (_ *service, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cat := registry.New()
	if err := Register(cat); err != nil {
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

	svc := &service{cfg: cfg, out: out, meters: meters, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			svc.Close()
		}
	}()
	opts := []molt.Option{molt.WithMeterProvider(meters)}
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
	svc.shards, err = spawnShards(svc.node, cfg.Shards, cfg.Version)
	if err != nil {
		return nil, err
	}

	// >>> OPERATOR SERVICES: the one place where remote and the admin
	// service are started, one call each; see operatorServices.
	svc.stopOperator, err = operatorServices(svc.node, svc.mgr, out)
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	newAPI(svc.shards, cfg.Timeout, meters).routes(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	svc.ln, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	svc.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { svc.served <- svc.http.Serve(svc.ln) }()
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
	return svc, nil
}

// operatorServices starts what lets an operator reach the node from
// another process, and returns what stops it.
//
// operatorServices starts the admin service on the node, under its
// well-known name, so that the `molt` CLI can list the shards, apply
// packages and roll them back; the node's remote (started with the node,
// Config.Remote) is how it gets there, and its access control decides who
// may.
func operatorServices(node *molt.Node, mgr *manager.Manager, out io.Writer) (stop func(), err error) {
	if node.Remote() == nil {
		return func() {}, nil
	}
	a, err := admin.Spawn(node, mgr, admin.Config{})
	if err != nil {
		return nil, fmt.Errorf("the admin service: %w", err)
	}
	// Tests and scripts read the address from this line: keep its form.
	fmt.Fprintf(out, "kvstore: molt admin on %s (molt --node %s ls)\n", node.Address(), node.Address())
	return a.Stop, nil
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
// services, the manager and the node stopped.
func (s *service) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			errs = append(errs, s.http.Shutdown(ctx))
			cancel()
			if err := <-s.served; !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, err)
			}
		}
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
		errs = append(errs, s.meters.Shutdown(context.Background()))
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
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
