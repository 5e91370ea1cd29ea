#!/bin/sh
# takeover-bench.sh MODE RUNS: RUNS runs of 10 s of load (32 clients, 10,000
# keys, half writes) against a fresh current-release kvstore on bbolt;
# MODE "takeover" starts the next release with -takeover 4 s into each
# run, MODE "none" does not. It prints the load report's figures and the
# takeover's report of each run. From the repository root:
#
#	sh examples/kvstore/takeover-bench.sh none 3
#	sh examples/kvstore/takeover-bench.sh takeover 3
set -e
mode=${1:-takeover}
runs=${2:-3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/" ./examples/kvstore ./examples/kvstore/load
go build -tags kvstore_next -o "$dir/kvstore-next" ./examples/kvstore
for i in $(seq "$runs"); do
	rm -rf "$dir/data"
	"$dir/kvstore" -data "$dir/data" -addr 127.0.0.1:18080 -remote 127.0.0.1:18090 >"$dir/old.log" 2>&1 &
	old=$!
	until grep -q listening "$dir/old.log"; do sleep 0.05; done
	"$dir/load" -target http://127.0.0.1:18080 -duration 10s >"$dir/load.log" 2>&1 &
	load=$!
	new=
	if [ "$mode" = takeover ]; then
		sleep 4
		"$dir/kvstore-next" -data "$dir/data" -addr 127.0.0.1:18080 -remote 127.0.0.1:18091 \
			-takeover 127.0.0.1:18090 >"$dir/new.log" 2>&1 &
		new=$!
	fi
	wait "$load" || true
	echo "run $i ($mode):"
	grep -E '^(requests|latency|failed requests|read back|OK|FAILED)' "$dir/load.log"
	if [ -n "$new" ]; then
		grep -E 'took over|handed over' "$dir/new.log"
		kill -TERM "$new"
		wait "$new" || true
	else
		kill -TERM "$old"
	fi
	wait "$old" || true
done
