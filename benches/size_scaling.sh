#!/usr/bin/env bash
# Payments per second and peak memory against network size (issue 15): generated MainnetLike
# networks of 5,000, 17,000, 50,000 and 170,000 nodes, random balances, 5,000 payments at 20 per
# second with log-normal amounts around 10,000 sat (as scenarios/mainnet/mainnet_100k.ron),
# every node an lnd node with lnd's router; then the same networks for a minute with no payments
# (what building and idling the network costs). Each run is timed with /usr/bin/time (user CPU
# and peak resident memory). Writes benches/size_scaling.csv and draws benches/size_pps.{png,svg}
# and benches/size_memory.{png,svg}.
#
#   bash benches/size_scaling.sh            # from the project root, after cargo build --release
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./target/release/boltsim
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
payments=5000
out=benches/size_scaling.csv
echo "nodes,channels,payments,user_s,peak_kib,idle_user_s,idle_peak_kib" > "$out.tmp"
for nodes in 5000 17000 50000 170000; do
    cat > "$work/pay.ron" <<RON
Scenario(name: "size_$nodes", seed: 1,
    generate: (kind: MainnetLike, nodes: $nodes, balance: random),
    workload: (end_s: 300, rate_per_s: 20.0, max_payments: $payments,
               amount: LogNormal(median_msat: 10_000_000, sigma: 1.5)),
    stop: (max_duration_s: 400))
RON
    cat > "$work/idle.ron" <<RON
Scenario(name: "idle_$nodes", seed: 1,
    generate: (kind: MainnetLike, nodes: $nodes, balance: random),
    stop: (max_duration_s: 60))
RON
    /usr/bin/time -f "%U %M" -o "$work/pay.time" "$bin" run "$work/pay.ron" --trace-level off --quiet --out "$work/pay" > /dev/null
    /usr/bin/time -f "%U %M" -o "$work/idle.time" "$bin" run "$work/idle.ron" --trace-level off --quiet --out "$work/idle" > /dev/null
    channels=$(( ($(wc -l < "$work/idle/channels.csv") - 1) / 2 ))
    read -r user peak < "$work/pay.time"
    read -r idle_user idle_peak < "$work/idle.time"
    echo "$nodes,$channels,$payments,$user,$peak,$idle_user,$idle_peak" | tee -a "$out.tmp"
done
mv "$out.tmp" "$out"
cargo run --release -q -p boltsim-benches --example size_chart -- "$out" benches
