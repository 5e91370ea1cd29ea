package takeover_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/molt-go/molt/internal/proctest"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestTakeoverUnderLoad moves every actor of one process into another
// while senders in the first keep sending numbered messages to them: each
// actor ends in the new process at the new version, and has counted every
// message sent to it, in order, once. MOLT_TAKEOVER_ACTORS sets the fleet
// (default 5,000; the trial is 100,000).
func TestTakeoverUnderLoad(t *testing.T) {
	actors := envInt("MOLT_TAKEOVER_ACTORS", 5000)
	bin := proctest.Build(t, "github.com/molt-go/molt/takeover/internal/fleet")
	src := proctest.Open(t, 10*time.Second, bin, "-role", "source", "-actors", strconv.Itoa(actors), "-senders", "4", "-rate", "20000")
	addr := strings.Fields(src.Expect("addr ", 60*time.Second))[1]
	src.Expect("load", 10*time.Second)

	req := proctest.Open(t, 10*time.Second, bin, "-role", "requester", "-from", addr)
	rep := proctest.Fields(t, req.Expect("report ", 120*time.Second))
	t.Logf("takeover of %d actors: %v", actors, rep)
	if rep["moved"] != float64(actors) || rep["failed"] != 0 {
		t.Fatalf("moved %v and failed %v of %d actors; stderr:\n%s", rep["moved"], rep["failed"], actors, req.Stderr())
	}

	src.Send("stop")
	sent := int(proctest.Fields(t, src.Expect("sent ", 30*time.Second))["sent"])
	src.Send("check")
	left := proctest.Fields(t, src.Expect("check ", 90*time.Second))
	if left["cells"] != 0 || left["moved"] != float64(actors) {
		t.Fatalf("the old process still runs %v cells and moved %v; want none left and %d moved", left["cells"], left["moved"], actors)
	}
	req.Send(fmt.Sprintf("check %d", sent))
	got := proctest.Fields(t, req.Expect("check ", 120*time.Second))
	t.Logf("sent %d; the new process: %v", sent, got)
	if got["cells"] != float64(actors) || got["v2"] != float64(actors) {
		t.Errorf("the new process runs %v cells, %v at version 2; want %d at version 2", got["cells"], got["v2"], actors)
	}
	if got["count"] != float64(sent) {
		t.Errorf("the cells counted %v messages, %d were sent: %s", got["count"], sent, map[bool]string{true: "some were lost", false: "some were duplicated"}[got["count"] < float64(sent)])
	}
	if got["bad"] != 0 {
		t.Errorf("%v messages arrived out of order or twice", got["bad"])
	}
}

// TestTakeoverSurvivesARequesterKilled kills the new process with SIGKILL
// at a random moment of the takeover: the old process keeps every actor
// whose move had not committed, each with every message sent to it
// counted once and in order. MOLT_KILL_TRIALS sets the number of trials
// (default 3; the series is 20 or more).
func TestTakeoverSurvivesARequesterKilled(t *testing.T) {
	trials := envInt("MOLT_KILL_TRIALS", 3)
	bin := proctest.Build(t, "github.com/molt-go/molt/takeover/internal/fleet")
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("MOLT_KILL_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (MOLT_KILL_SEED replays it)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	const actors = 3000
	for trial := range trials {
		t.Run(strconv.Itoa(trial), func(t *testing.T) {
			src := proctest.Open(t, 10*time.Second, bin, "-role", "source", "-actors", strconv.Itoa(actors), "-senders", "2", "-rate", "10000")
			addr := strings.Fields(src.Expect("addr ", 60*time.Second))[1]
			src.Expect("load", 10*time.Second)
			// Small batches, one at a time, and a short deadline: the kill
			// lands in the middle, and staged actors resume soon.
			req := proctest.Open(t, 10*time.Second, bin, "-role", "requester", "-from", addr, "-batch", "50", "-parallel", "1", "-deadline", "300ms")
			req.Expect("addr ", 30*time.Second)
			after := time.Duration(rng.Int64N(int64(250 * time.Millisecond)))
			time.Sleep(after) // when to kill is the trial's random input, not a wait for anything
			req.Kill()

			src.Send("stop")
			proctest.Fields(t, src.Expect("sent ", 30*time.Second))
			src.Send("check")
			got := proctest.Fields(t, src.Expect("check ", 90*time.Second))
			t.Logf("killed after %v: %v", after, got)
			if got["cells"]+got["moved"] != actors {
				t.Errorf("%v cells here and %v moved; %d were spawned: some are lost", got["cells"], got["moved"], actors)
			}
			if got["count"] != got["expected"] || got["bad"] != 0 {
				t.Errorf("the cells still here counted %v messages of %v sent to them, %v out of order", got["count"], got["expected"], got["bad"])
			}
		})
	}
}
