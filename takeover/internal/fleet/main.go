// Command fleet is the process of molt's takeover tests and benchmark: a
// node of many small "cell" actors that count numbered messages and check
// their order.
//
//	fleet -role source -actors N [-senders K -rate R]
//
// spawns N cells at version 1, serves takeovers and, with senders, keeps
// sending numbered messages to them (each sender numbers its messages to
// each cell from 1). It prints "addr <host:port>", then "load" once the
// senders run. Commands on standard input: "stop" stops the senders and
// prints "sent <total>"; "check" probes every cell still here and prints
// "check cells <n> count <messages> expected <sent to them> bad <out of
// order> moved <committed away>".
//
//	fleet -role requester -from ADDR [-batch B -parallel P]
//
// reads version 1 as a state without behaviour, runs version 2, takes over
// from ADDR and prints "report moved <n> failed <n> total-ms <ms>
// pause-p50-ms <ms> pause-p99-ms <ms> pause-max-ms <ms>". Then "check
// <expected>" waits until its cells have counted that many messages (at
// most 30 s) and prints the check line.
//
// Both exit when standard input closes.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/takeover"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// A numbered message is a UInt64Value: the sender in the high 32 bits, the
// message's number (per sender and cell, from 1) in the low ones. It is
// protobuf, so a cell that moved gets it forwarded.
func number(sender, n uint32) *wrapperspb.UInt64Value {
	return &wrapperspb.UInt64Value{Value: uint64(sender)<<32 | uint64(n)}
}

// probe asks a cell for its counts; in process only.
type probe struct {
	agg *totals
}

type totals struct {
	cells, count, bad atomic.Int64
	versions          sync.Map // uint32 → *atomic.Int64
	wg                sync.WaitGroup
}

type cellV1 struct {
	Last  map[uint32]uint32
	Count uint64
	Bad   uint64
}

func (c *cellV1) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *wrapperspb.UInt64Value:
		count(&c.Last, &c.Count, &c.Bad, m)
	case probe:
		m.agg.add(1, c.Count, c.Bad)
	}
}

// count takes a numbered message into a cell's state: one more message,
// and one more out of order unless it follows the sender's last.
func count(last *map[uint32]uint32, total, bad *uint64, m *wrapperspb.UInt64Value) {
	*total++
	if *last == nil {
		*last = map[uint32]uint32{}
	}
	s, n := uint32(m.Value>>32), uint32(m.Value)
	if n != (*last)[s]+1 {
		*bad++
	}
	(*last)[s] = n
}

// cellV1State is what the requester keeps of version 1: its state only.
type cellV1State struct {
	Last  map[uint32]uint32
	Count uint64
	Bad   uint64
}

type cellV2 struct {
	Last  map[uint32]uint32
	Count uint64
	Bad   uint64
	Moved int
}

func (c *cellV2) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *update.VersionChanged:
		if m.Moved {
			c.Moved++
		}
	case *wrapperspb.UInt64Value:
		count(&c.Last, &c.Count, &c.Bad, m)
	case probe:
		m.agg.add(2, c.Count, c.Bad)
	}
}

func (t *totals) add(version uint32, count, bad uint64) {
	t.cells.Add(1)
	t.count.Add(int64(count))
	t.bad.Add(int64(bad))
	v, _ := t.versions.LoadOrStore(version, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	t.wg.Done()
}

func main() {
	role := flag.String("role", "source", "source or requester")
	actors := flag.Int("actors", 1000, "cells to spawn (source)")
	senders := flag.Int("senders", 0, "load goroutines (source)")
	rate := flag.Int("rate", 20000, "messages per second, all senders together (source)")
	from := flag.String("from", "", "the source's address (requester)")
	batch := flag.Int("batch", 0, "actors per batch (requester); 0: takeover.Config's default")
	parallel := flag.Int("parallel", 0, "batches in flight (requester); 0: takeover.Config's default")
	deadline := flag.Duration("deadline", 5*time.Second, "per-actor move deadline (requester)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	memprofile := flag.String("memprofile", "", "write an allocation profile at exit to this file")
	flag.Parse()
	if *memprofile != "" {
		defer func() {
			if f, err := os.Create(*memprofile); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				_ = f.Close()
			}
		}()
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	var err error
	if *role == "source" {
		err = source(*actors, *senders, *rate)
	} else {
		err = requester(*from, *batch, *parallel, *deadline)
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

func name(i int) string { return fmt.Sprintf("cell-%06d", i) }

func source(actors, senders, rate int) error {
	cat := registry.New()
	if err := registry.Register(cat, "cell", 1, func() *cellV1 { return &cellV1{} }); err != nil {
		return err
	}
	node, err := molt.StartNode(cat, molt.WithRemote(molt.RemoteConfig{}))
	if err != nil {
		return err
	}
	defer node.Shutdown()
	svc, err := takeover.Serve(node, nil)
	if err != nil {
		return err
	}
	defer svc.Stop()
	pids := make([]*pa.PID, actors)
	for i := range pids {
		if pids[i], err = node.Spawn("cell", 1, molt.WithName(name(i))); err != nil {
			return err
		}
	}
	fmt.Printf("addr %s\n", node.Address())

	// sent[s][i] is how many messages sender s sent cell i.
	sent := make([][]uint32, senders)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for s := range senders {
		sent[s] = make([]uint32, actors)
		wg.Add(1)
		go func() {
			defer wg.Done()
			per := max(1, rate/senders/1000) // messages per millisecond
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			i := s * 7919 % actors
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				for range per {
					sent[s][i]++
					node.Root().Send(pids[i], number(uint32(s+1), sent[s][i]))
					i = (i + 1) % actors
				}
			}
		}()
	}
	if senders > 0 {
		fmt.Println("load")
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "stop":
			close(stop)
			wg.Wait()
			var total uint64
			for s := range sent {
				for _, n := range sent[s] {
					total += uint64(n)
				}
			}
			fmt.Printf("sent %d\n", total)
		case "check":
			var t totals
			var expected uint64
			for i, pid := range pids {
				if _, ok := node.Directory().Lookup(pid); !ok {
					continue // moved
				}
				for s := range sent {
					expected += uint64(sent[s][i])
				}
				t.wg.Add(1)
				node.Root().Send(pid, probe{&t})
			}
			if !waitFor(&t.wg, 60*time.Second) {
				return fmt.Errorf("check: cells did not answer within 60s")
			}
			fmt.Printf("check cells %d count %d expected %d bad %d moved %d\n", t.cells.Load(), t.count.Load(), expected, t.bad.Load(), svc.Progress().GetMoved())
		}
	}
	return nil
}

func waitFor(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

func requester(from string, batch, parallel int, deadline time.Duration) error {
	cat := registry.New()
	for _, err := range []error{
		registry.RegisterState(cat, "cell", 1, func() *cellV1State { return &cellV1State{} }),
		registry.Register(cat, "cell", 2, func() *cellV2 { return &cellV2{} }),
		registry.Migrate(cat, "cell", 1, 2, func(s *cellV1State) (*cellV2, error) {
			return &cellV2{Last: s.Last, Count: s.Count, Bad: s.Bad}, nil
		}, registry.Pure()),
	} {
		if err != nil {
			return err
		}
	}
	node, err := molt.StartNode(cat, molt.WithRemote(molt.RemoteConfig{}))
	if err != nil {
		return err
	}
	defer node.Shutdown()
	svc, err := takeover.Serve(node, nil)
	if err != nil {
		return err
	}
	defer svc.Stop()
	fmt.Printf("addr %s\n", node.Address())
	rep, err := takeover.Run(context.Background(), node, from, takeover.Config{BatchSize: batch, Parallel: parallel, Deadline: deadline})
	if rep == nil {
		return err
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet: takeover:", err)
	}
	for _, f := range rep.Failures[:min(5, len(rep.Failures))] {
		fmt.Fprintf(os.Stderr, "fleet: %s stayed: %s\n", f.Name, f.Reason)
	}
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }
	fmt.Printf("report moved %d failed %d total-ms %s pause-p50-ms %s pause-p99-ms %s pause-max-ms %s\n",
		rep.Moved, rep.Failed, ms(rep.Total), ms(rep.Pause(0.5)), ms(rep.Pause(0.99)), ms(rep.Pause(1)))

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 2 && f[0] == "check" {
			want, _ := strconv.ParseInt(f[1], 10, 64)
			var t *totals
			for end := time.Now().Add(30 * time.Second); ; {
				t = &totals{}
				entries := node.Directory().List("cell")
				t.wg.Add(len(entries))
				for _, e := range entries {
					node.Root().Send(e.PID, probe{t})
				}
				if !waitFor(&t.wg, 30*time.Second) {
					return fmt.Errorf("check: cells did not answer within 30s")
				}
				if t.count.Load() >= want || time.Now().After(end) {
					break
				}
				time.Sleep(20 * time.Millisecond) // forwarded messages still on their way
			}
			v2 := int64(0)
			if v, ok := t.versions.Load(uint32(2)); ok {
				v2 = v.(*atomic.Int64).Load()
			}
			fmt.Printf("check cells %d count %d expected %d bad %d v2 %d\n", t.cells.Load(), t.count.Load(), want, t.bad.Load(), v2)
		}
	}
	return nil
}
