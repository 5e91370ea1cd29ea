package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Limits of the HTTP API: everything a client sends is bounded.
const (
	MaxKeyBytes   = 1024
	MaxValueBytes = 1 << 20
	// DefaultListLimit and MaxListLimit bound GET /kv?prefix=p.
	DefaultListLimit = 100
	MaxListLimit     = 1000
	// MaxTTL bounds PUT /kv/{key}?ttl=d.
	MaxTTL = 365 * 24 * time.Hour
)

// shards are the shard actors, and how a key finds its own.
type shards struct {
	root *actor.RootContext
	pids []*actor.PID
}

// ShardName is the name of shard i, its PID's id.
func ShardName(i int) string { return fmt.Sprintf("kv-shard-%d", i) }

// shardsOf returns the n shards of node, by name: shard i is the actor
// named ShardName(i) on the node, whether it is spawned here (spawn) or
// moved here by a takeover.
func shardsOf(node *molt.Node, n int) *shards {
	s := &shards{root: node.Root()}
	for i := range n {
		s.pids = append(s.pids, actor.NewPID(node.Address(), ShardName(i)))
	}
	return s
}

// spawn spawns, at version, every shard that does not run on node yet,
// named and labelled so that an update package can select them by kind or
// by label, and persistent: each starts from its latest snapshot in the
// node's store, migrated from whatever version wrote it. A shard that a
// takeover brought here is kept as it is.
func (s *shards) spawn(node *molt.Node, version uint32) error {
	for i, pid := range s.pids {
		if _, ok := node.Directory().Lookup(pid); ok {
			continue
		}
		if _, err := node.Spawn(Kind, version, molt.WithName(ShardName(i)), molt.WithLabels(map[string]string{ShardLabel: Kind}), molt.Persistent()); err != nil {
			return fmt.Errorf("spawning %s: %w", ShardName(i), err)
		}
	}
	return nil
}

// of returns the shard that holds key. FNV-1a is stable across processes
// and Go releases (the runtime's map hash is not), which a sharding that
// outlives a process needs.
func (s *shards) of(key string) int {
	h := fnv.New64a()
	h.Write([]byte(key))
	return int(h.Sum64() % uint64(len(s.pids)))
}

// api serves the HTTP API over the shards.
type api struct {
	shards  *shards
	timeout time.Duration

	requests metric.Int64Counter
	latency  metric.Float64Histogram
}

func newAPI(s *shards, timeout time.Duration, mp metric.MeterProvider) *api {
	m := mp.Meter("github.com/molt-go/molt/examples/kvstore")
	a := &api{shards: s, timeout: timeout}
	// An instrument the provider fails to make is a working no-op, so the
	// errors cost only figures.
	a.requests, _ = m.Int64Counter("kvstore.http.requests",
		metric.WithDescription("HTTP requests answered, by route and status code"))
	a.latency, _ = m.Float64Histogram("kvstore.http.duration", metric.WithUnit("s"),
		metric.WithDescription("Time to answer an HTTP request, by route"),
		metric.WithExplicitBucketBoundaries(1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5))
	return a
}

func (a *api) routes(mux *http.ServeMux) {
	mux.Handle("GET /kv/{key...}", a.measured("get", a.get))
	mux.Handle("PUT /kv/{key...}", a.measured("put", a.put))
	mux.Handle("DELETE /kv/{key...}", a.measured("delete", a.delete))
	mux.Handle("GET /kv", a.measured("list", a.list))
	mux.Handle("GET /ttl/{key...}", a.measured("ttl", a.ttl))
	mux.Handle("GET /debug/shards", a.measured("shards", a.debugShards))
}

// statusWriter remembers the status code, for the metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (a *api) measured(route string, h func(http.ResponseWriter, *http.Request)) http.Handler {
	attr := attribute.String("route", route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h(sw, r)
		ctx := context.Background()
		a.latency.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(attr))
		a.requests.Add(ctx, 1, metric.WithAttributes(attr, attribute.Int("code", sw.code)))
	})
}

// ask sends msg to shard i and waits for its answer within the API's
// timeout. An update of the shard holds the request and delivers it to
// the new version, so an update shows here as latency, not as an error.
func (a *api) ask(i int, msg any) (any, error) {
	v, err := a.shards.root.RequestFuture(a.shards.pids[i], msg, a.timeout).Result()
	if err != nil {
		return nil, fmt.Errorf("%s did not answer within %v: %w", ShardName(i), a.timeout, err)
	}
	return v, nil
}

// key reads and checks the path's key, answering 400 if it is unfit.
func key(w http.ResponseWriter, r *http.Request) (string, bool) {
	k := r.PathValue("key")
	switch {
	case k == "":
		http.Error(w, "empty key", http.StatusBadRequest)
		return "", false
	case len(k) > MaxKeyBytes:
		http.Error(w, fmt.Sprintf("key of %d bytes, over the limit of %d", len(k), MaxKeyBytes), http.StatusBadRequest)
		return "", false
	}
	return k, true
}

// answer writes a shard's answer: the request's own reply with the shard's
// version in a header, or the error that stands for it.
func answer[R any](w http.ResponseWriter, v any, err error) (R, bool) {
	var zero R
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return zero, false
	}
	switch m := v.(type) {
	case R:
		return m, true
	case *Unsupported:
		w.Header().Set("X-Shard-Version", strconv.Itoa(int(m.Version)))
		http.Error(w, fmt.Sprintf("shard runs version %d; TTLs come with version 2", m.Version), http.StatusConflict)
		return zero, false
	case *Failed:
		// The write could not be made durable and was undone: not
		// acknowledged, so the client may send it again.
		w.Header().Set("X-Shard-Version", strconv.Itoa(int(m.Version)))
		http.Error(w, "the write was not made durable, and was undone: "+m.Reason, http.StatusServiceUnavailable)
		return zero, false
	default:
		http.Error(w, fmt.Sprintf("the shard answered %T, want %T", v, zero), http.StatusInternalServerError)
		return zero, false
	}
}

func version(w http.ResponseWriter, v uint32) {
	w.Header().Set("X-Shard-Version", strconv.Itoa(int(v)))
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	k, ok := key(w, r)
	if !ok {
		return
	}
	v, err := a.ask(a.shards.of(k), &Get{Key: k})
	m, ok := answer[*Value](w, v, err)
	if !ok {
		return
	}
	version(w, m.Version)
	if !m.Found {
		http.Error(w, "no such key", http.StatusNotFound)
		return
	}
	if m.ModifiedAt != 0 {
		w.Header().Set("Last-Modified", time.Unix(0, m.ModifiedAt).UTC().Format(http.TimeFormat))
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(m.Value)
}

func (a *api) put(w http.ResponseWriter, r *http.Request) {
	k, ok := key(w, r)
	if !ok {
		return
	}
	var ttl time.Duration
	if s := r.URL.Query().Get("ttl"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 || d > MaxTTL {
			http.Error(w, fmt.Sprintf("ttl %q: want a positive duration up to %v, such as 30s", s, MaxTTL), http.StatusBadRequest)
			return
		}
		ttl = d
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxValueBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("value over the limit of %d bytes", MaxValueBytes), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading the value: "+err.Error(), http.StatusBadRequest)
		return
	}
	var msg any = &Put{Key: k, Value: body}
	if ttl > 0 {
		msg = &PutTTL{Key: k, Value: body, TtlNanos: int64(ttl)}
	}
	v, err := a.ask(a.shards.of(k), msg)
	m, ok := answer[*Ack](w, v, err)
	if !ok {
		return
	}
	// The shard answers once it has applied the write and made it durable:
	// a 200 is an acknowledged write, which a kill -9 does not lose.
	version(w, m.Version)
	io.WriteString(w, "OK\n")
}

func (a *api) delete(w http.ResponseWriter, r *http.Request) {
	k, ok := key(w, r)
	if !ok {
		return
	}
	v, err := a.ask(a.shards.of(k), &Delete{Key: k})
	m, ok := answer[*Deleted](w, v, err)
	if !ok {
		return
	}
	version(w, m.Version)
	if !m.Found {
		http.Error(w, "no such key", http.StatusNotFound)
		return
	}
	io.WriteString(w, "OK\n")
}

// ttlReply is the body of GET /ttl/{key}.
type ttlReply struct {
	Key string `json:"key"`
	// TTL is the time left, and ExpiresAt when it ends; both absent for a
	// key that never expires.
	TTL       string     `json:"ttl,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func (a *api) ttl(w http.ResponseWriter, r *http.Request) {
	k, ok := key(w, r)
	if !ok {
		return
	}
	v, err := a.ask(a.shards.of(k), &GetTTL{Key: k})
	m, ok := answer[*TTLInfo](w, v, err)
	if !ok {
		return
	}
	version(w, m.Version)
	if !m.Found {
		http.Error(w, "no such key", http.StatusNotFound)
		return
	}
	out := ttlReply{Key: k}
	if m.ExpiresAt != 0 {
		at := time.Unix(0, m.ExpiresAt).UTC()
		out.ExpiresAt = &at
		out.TTL = time.Until(at).Round(time.Millisecond).String()
	}
	writeJSON(w, out)
}

// listReply is the body of GET /kv?prefix=p.
type listReply struct {
	Keys []string `json:"keys"`
	// Truncated says that more keys have the prefix than the limit let
	// through.
	Truncated bool `json:"truncated"`
}

// list asks every shard at once for its first keys with the prefix, and
// merges them: each shard sends at most the limit, so the work and the
// answer are bounded whatever the store holds.
func (a *api) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := DefaultListLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxListLimit {
			http.Error(w, fmt.Sprintf("limit %q: want 1 to %d", s, MaxListLimit), http.StatusBadRequest)
			return
		}
		limit = n
	}
	prefix := q.Get("prefix")
	if len(prefix) > MaxKeyBytes {
		http.Error(w, fmt.Sprintf("prefix of %d bytes, over the limit of %d", len(prefix), MaxKeyBytes), http.StatusBadRequest)
		return
	}
	futures := make([]*actor.Future, len(a.shards.pids))
	for i, pid := range a.shards.pids {
		futures[i] = a.shards.root.RequestFuture(pid, &List{Prefix: prefix, Limit: int32(limit)}, a.timeout)
	}
	out := listReply{Keys: []string{}}
	for i, f := range futures {
		v, err := f.Result()
		if err != nil {
			err = fmt.Errorf("%s did not answer within %v: %w", ShardName(i), a.timeout, err)
		}
		m, ok := answer[*Listing](w, v, err)
		if !ok {
			return
		}
		out.Keys = append(out.Keys, m.Keys...)
		out.Truncated = out.Truncated || m.More
	}
	slices.Sort(out.Keys)
	if len(out.Keys) > limit {
		out.Keys, out.Truncated = out.Keys[:limit], true
	}
	writeJSON(w, out)
}

// ShardStatus is one element of GET /debug/shards.
type ShardStatus struct {
	Name    string `json:"name"`
	Version uint32 `json:"version"`
	Keys    int    `json:"keys"`
}

// debugShards asks each shard what it runs: the version is the one that
// answered, not what a directory last recorded.
func (a *api) debugShards(w http.ResponseWriter, r *http.Request) {
	out := make([]ShardStatus, len(a.shards.pids))
	for i := range a.shards.pids {
		v, err := a.ask(i, &Info{})
		m, ok := answer[*ShardInfo](w, v, err)
		if !ok {
			return
		}
		out[i] = ShardStatus{Name: ShardName(i), Version: m.Version, Keys: int(m.Keys)}
	}
	writeJSON(w, out)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
