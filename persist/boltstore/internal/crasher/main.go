// Command crasher is the process that boltstore's kill -9 test kills: it
// opens a store and saves snapshots of several names, each with increasing
// sequences, as fast as it can, and prints "name sequence" on its standard
// output after each Save returns nil. It prints "ready" once the store is
// open. It exits when its standard input closes or after -max.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"time"

	"github.com/molt-go/molt/persist/boltstore"
	"github.com/molt-go/molt/persist/storetest"
)

func main() {
	path := flag.String("path", "", "the store's file")
	names := flag.Int("names", 8, "how many names to save, each from its own goroutine")
	size := flag.Int("size", 1024, "the state's size in bytes")
	maxRun := flag.Duration("max", time.Minute, "exit after this long")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("crasher: ")

	s, err := boltstore.Open(*path)
	if err != nil {
		log.Fatal(err)
	}
	var out sync.Mutex
	say := func(line string) {
		out.Lock()
		defer out.Unlock()
		// One write per line: a line reaches the pipe whole or not at all.
		if _, err := os.Stdout.WriteString(line); err != nil {
			os.Exit(1)
		}
	}
	say("ready\n")

	ctx, cancel := context.WithTimeout(context.Background(), *maxRun)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	var wg sync.WaitGroup
	for i := range *names {
		name := fmt.Sprint("actor-", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := uint64(1); ctx.Err() == nil; seq++ {
				if err := s.Save(ctx, name, storetest.Snapshot(name, seq, *size)); err != nil {
					if ctx.Err() == nil {
						log.Printf("Save %s %d: %v", name, seq, err)
					}
					return
				}
				say(fmt.Sprintf("%s %d\n", name, seq))
			}
		}()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		log.Fatal(err)
	}
}
