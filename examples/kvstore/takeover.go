package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"syscall"
	"time"

	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/takeover"
	"golang.org/x/sys/unix"
)

// takeOver moves every shard of the kvstore whose molt remote is at
// cfg.Takeover into this process, at the version this release runs: batch
// by batch, each shard is held and sealed there, migrated and started here
// under its name (persistent, going on from the snapshot sequence it had),
// and released once the old process committed its move; the old PID then
// forwards every message, held or late, here, in order. It prints the
// progress after each batch and the report at the end.
//
// A takeover that moved nothing (the old process unreachable, or it
// refused) is an error. One that moved some shards but not all is not:
// the others are spawned here from their snapshots once the store is
// handed over (see start).
func (s *service) takeOver() error {
	cfg := s.cfg
	s.takeoverBegan = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), takeoverBound)
	defer cancel()
	fmt.Fprintf(s.out, "kvstore: taking over from %s: shards at version %d here, %d per batch\n", cfg.Takeover, cfg.Version, cfg.TakeoverBatch)
	rep, err := takeover.Run(ctx, s.node, cfg.Takeover, takeover.Config{
		Deadline:  cfg.UpdateDeadline,
		BatchSize: cfg.TakeoverBatch,
		Parallel:  1, // one batch at a time: a bounded share of the shards held at any moment
		Versions:  map[string]uint32{Kind: cfg.Version},
		Spawn:     []molt.SpawnOption{molt.Persistent()},
		Progress: func(p *takeover.Progress) {
			// Tests and scripts read these lines: keep their form.
			fmt.Fprintf(s.out, "kvstore: takeover %s: %d of %d shards moved, %d failed, %d in flight, %v\n",
				p.GetTakeoverId(), p.GetMoved(), p.GetActors(), p.GetFailed(), p.GetInFlight(), p.GetElapsed().AsDuration().Round(time.Microsecond))
		},
	})
	if rep == nil {
		return fmt.Errorf("the takeover from %s: %w", cfg.Takeover, err)
	}
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) + "ms" }
	// Tests and scripts read this line: keep its form.
	fmt.Fprintf(s.out, "kvstore: took over %d of %d shards from %s in %s, %d failed; pause per shard p50 %s p99 %s max %s\n",
		rep.Moved, rep.Movable, cfg.Takeover, ms(rep.Total), rep.Failed, ms(rep.Pause(0.5)), ms(rep.Pause(0.99)), ms(rep.Pause(1)))
	if err != nil {
		fmt.Fprintf(s.out, "kvstore: the takeover did not move every shard: %v\n", err)
	}
	for _, f := range rep.Failures {
		fmt.Fprintf(s.out, "kvstore:   %s stayed: %s (it starts here from its snapshot)\n", f.Name, f.Reason)
	}
	for _, f := range rep.StayingSample {
		fmt.Fprintf(s.out, "kvstore:   %s stayed: %s\n", f.Name, f.Reason)
	}
	// A shard that is not one of ours (the old process ran more shards)
	// would never be asked: the keys would be spread otherwise.
	s.shards = shardsOf(s.node, cfg.Shards)
	names := make([]string, 0, cfg.Shards)
	for _, pid := range s.shards.pids {
		names = append(names, pid.GetId())
	}
	for _, e := range s.node.Directory().List(Kind) {
		if !slices.Contains(names, e.PID.GetId()) {
			return fmt.Errorf("the takeover brought %s, beyond -shards %d: start with the old process's -shards", e.PID.GetId(), cfg.Shards)
		}
	}
	return nil
}

// handOver is the takeover service's onFinish: another process took this
// one's shards over. It runs on the service's goroutine, so it only starts
// what follows:
//
//  1. The store is closed at once, so that the new process can open the
//     file: its moved shards wait for it before they acknowledge a write.
//  2. This process keeps accepting connections for listenOverlap, while
//     the new one starts listening on the same port, then stops, and
//     answers the requests in flight (forwarded to the moved shards).
//  3. It goes on forwarding for Linger (messages that other processes
//     still send to its PIDs), then run returns and it exits.
func (s *service) handOver(f *takeover.Finished) {
	go func() {
		<-s.started
		peer := "the new process"
		if s.source != nil {
			peer = s.source.Progress().GetPeer()
		}
		fmt.Fprintf(s.out, "kvstore: taken over by %s: %d shards moved, %d stayed here\n", peer, f.GetMoved(), f.GetStayed())
		if err := s.store.Close(); err != nil {
			fmt.Fprintf(s.out, "kvstore: closing the store: %v\n", err)
		} else {
			fmt.Fprintln(s.out, "kvstore: store closed, for the new process to open")
		}
		time.Sleep(listenOverlap)
		if err := s.stopHTTP(); err != nil {
			fmt.Fprintf(s.out, "kvstore: stopping the HTTP server: %v\n", err)
		}
		fmt.Fprintf(s.out, "kvstore: stopped listening, requests in flight answered; forwarding for %v, then exiting\n", s.cfg.Linger)
		time.Sleep(s.cfg.Linger)
		close(s.handedOver)
	}()
}

// listen listens on addr with SO_REUSEPORT, which lets a process that
// takes over listen on the same port while the old one still does: the
// kernel spreads new connections over both until the old one closes its
// listener, so that no client is refused. Unless shared, addr must be
// free: it is bound once without SO_REUSEPORT first, which fails if
// another process listens there, so that two kvstores never share a port
// by accident.
func listen(addr string, shared bool) (net.Listener, error) {
	if !shared {
		probe, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		addr = probe.Addr().String()
		if err := probe.Close(); err != nil {
			return nil, err
		}
	}
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("SO_REUSEPORT: %w", serr)
		}
		return nil
	}}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil && shared {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%w: the process listening on %s does not share its port (SO_REUSEPORT)", err, addr)
		}
	}
	return ln, err
}
