// Command floor is the least a takeover can cost on protoactor-go: the
// peer that BenchmarkTakeover measures molt's takeover against, in the
// same run. It moves the same actors as takeover/internal/fleet (a map
// and two counters each) between two processes with plain protoactor and
// nothing else: per batch, one local message to each actor, which encodes
// its state (msgpack, molt's default codec) and stops taking messages for
// itself; one remote message with the batch; a plain actor spawned, named
// as before, from each decoded state; one remote message back, and one
// local message to each old actor with the PID to forward to. No phases,
// no checks, no deadlines, no hold on the new side, no failure handling:
// what any takeover on protoactor must do at the least.
//
//	floor -role source -actors N
//
// prints "addr <host:port>" once its actors run.
//
//	floor -role requester -from ADDR [-batch B -parallel P]
//
// moves every actor and prints "report moved <n> total-ms <ms>
// pause-p50-ms <ms> pause-p99-ms <ms> pause-max-ms <ms>", the pause of an
// actor being from the start of its hold in the source to its forwarder
// being set there, as the requester hears of it.
//
// Both run the same remote settings as a molt node (actor/remote.go) and
// exit when standard input closes.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/vmihailenco/msgpack/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// moverName is the source's actor that hands batches out.
const moverName = "floor-mover"

// cell is the moved actor's state, as the fleet's version 1 has it.
type cell struct {
	Last  map[uint32]uint32
	Count uint64
	Bad   uint64
}

// moving is one actor in a batch on the wire.
type moving struct {
	Name  string
	State []byte
	Held  int64 // Unix nanoseconds: when it stopped taking messages
}

// cellActor runs a cell; once given away it forwards everything.
type cellActor struct {
	cell
	to *pa.PID
}

// give asks a cell for its state, for the mover.
type give struct {
	into chan<- moving
}

// forwardTo tells a given-away cell where it lives now.
type forwardTo struct{ pid *pa.PID }

func (c *cellActor) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case give:
		held := time.Now().UnixNano()
		b, err := msgpack.Marshal(&c.cell)
		if err != nil {
			panic(err)
		}
		m.into <- moving{Name: ctx.Self().GetId(), State: b, Held: held}
	case forwardTo:
		c.to = m.pid
	case *wrapperspb.UInt64Value:
		if c.to != nil {
			ctx.Forward(c.to)
			return
		}
		c.Count++
	}
}

func system() *pa.ActorSystem {
	quiet := pa.WithLoggerFactory(func(*pa.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) })
	sys := pa.NewActorSystem(quiet)
	const window = 4 << 20 // molt's remote settings (actor/remote.go)
	cfg := remote.Configure("127.0.0.1", 0, remote.WithEndpointWriterQueueSize(1024),
		remote.WithServerOptions(grpc.InitialWindowSize(window), grpc.InitialConnWindowSize(window)),
		remote.WithDialOptions(grpc.WithInitialWindowSize(window), grpc.WithInitialConnWindowSize(window),
			grpc.WithTransportCredentials(insecure.NewCredentials())))
	remote.NewRemote(sys, cfg).Start()
	return sys
}

func main() {
	role := flag.String("role", "source", "source or requester")
	actors := flag.Int("actors", 1000, "cells to spawn (source)")
	from := flag.String("from", "", "the source's address (requester)")
	batch := flag.Int("batch", 64, "actors per batch (requester)")
	parallel := flag.Int("parallel", 2, "batches in flight (requester)")
	flag.Parse()
	var err error
	switch {
	case *role == "source":
		err = source(*actors)
	case *role != "requester":
		err = fmt.Errorf("-role %q: give source or requester", *role)
	case *from == "":
		err = errors.New("-role requester needs -from, the source's host:port (it prints \"addr ...\")")
	default:
		err = requester(*from, *batch, *parallel)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func source(actors int) error {
	sys := system()
	defer sys.Shutdown()
	props := pa.PropsFromProducer(func() pa.Actor { return &cellActor{} })
	pids := make([]*pa.PID, actors)
	for i := range pids {
		var err error
		if pids[i], err = sys.Root.SpawnNamed(props, fmt.Sprintf("cell-%06d", i)); err != nil {
			return err
		}
	}
	var next atomic.Int64
	mover := func(ctx pa.Context) {
		switch m := ctx.Message().(type) {
		case *wrapperspb.UInt32Value: // the next batch, of at most m.Value actors
			n := int(m.Value)
			lo := min(int(next.Add(int64(n)))-n, len(pids))
			hi := min(lo+n, len(pids))
			into := make(chan moving, hi-lo)
			for _, pid := range pids[lo:hi] {
				ctx.Send(pid, give{into})
			}
			// Collected aside, so that batches in flight overlap here
			// as they do in molt's source.
			sender := ctx.Sender()
			go func() {
				out := make([]moving, 0, cap(into))
				for range cap(into) {
					out = append(out, <-into)
				}
				b, err := msgpack.Marshal(out)
				if err != nil {
					panic(err)
				}
				sys.Root.Send(sender, &wrapperspb.BytesValue{Value: b})
			}()
		case *wrapperspb.BytesValue: // where the batch's actors live now
			var placed []string // name, address, id, ...
			if err := msgpack.Unmarshal(m.Value, &placed); err != nil {
				panic(err)
			}
			for i := 0; i+2 < len(placed); i += 3 {
				ctx.Send(pa.NewPID(sys.Address(), placed[i]), forwardTo{pa.NewPID(placed[i+1], placed[i+2])})
			}
			ctx.Respond(&wrapperspb.BoolValue{Value: true})
		}
	}
	if _, err := sys.Root.SpawnNamed(pa.PropsFromFunc(mover), moverName); err != nil {
		return err
	}
	fmt.Printf("addr %s\n", sys.Address())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
	}
	return nil
}

func requester(from string, batch, parallel int) error {
	sys := system()
	defer sys.Shutdown()
	mover := pa.NewPID(from, moverName)
	start := time.Now()
	var (
		mu     sync.Mutex
		pauses []time.Duration
		wg     sync.WaitGroup
		failed error
	)
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				res, err := sys.Root.RequestFuture(mover, &wrapperspb.UInt32Value{Value: uint32(batch)}, 30*time.Second).Result()
				if err != nil {
					mu.Lock()
					failed = fmt.Errorf("asking the source at %s for a batch: %w (is it running, with -role source?)", from, err)
					mu.Unlock()
					return
				}
				var got []moving
				if err := msgpack.Unmarshal(res.(*wrapperspb.BytesValue).GetValue(), &got); err != nil {
					panic(err)
				}
				if len(got) == 0 {
					return
				}
				placed := make([]string, 0, 3*len(got))
				for _, mv := range got {
					c := &cellActor{}
					if err := msgpack.Unmarshal(mv.State, &c.cell); err != nil {
						panic(err)
					}
					pid, err := sys.Root.SpawnNamed(pa.PropsFromProducer(func() pa.Actor { return c }), mv.Name)
					if err != nil {
						panic(err)
					}
					placed = append(placed, mv.Name, pid.GetAddress(), pid.GetId())
				}
				b, err := msgpack.Marshal(placed)
				if err != nil {
					panic(err)
				}
				if _, err := sys.Root.RequestFuture(mover, &wrapperspb.BytesValue{Value: b}, 30*time.Second).Result(); err != nil {
					mu.Lock()
					failed = fmt.Errorf("telling the source at %s where %d actors went: %w", from, len(got), err)
					mu.Unlock()
					return
				}
				now := time.Now().UnixNano()
				mu.Lock()
				for _, mv := range got {
					pauses = append(pauses, time.Duration(now-mv.Held))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	total := time.Since(start)
	if failed != nil {
		return failed
	}
	slices.Sort(pauses)
	q := func(f float64) string {
		if len(pauses) == 0 {
			return "0"
		}
		return strconv.FormatFloat(float64(pauses[int(f*float64(len(pauses)-1))])/1e6, 'f', 2, 64)
	}
	fmt.Printf("report moved %d total-ms %s pause-p50-ms %s pause-p99-ms %s pause-max-ms %s\n",
		len(pauses), strconv.FormatFloat(float64(total)/1e6, 'f', 2, 64), q(0.5), q(0.99), q(1))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
	}
	return nil
}
