#!/usr/bin/env bash
# Runs the peer benchmarks in COUNT rounds (3 unless set) and prints, for
# each, the median events/s of ours and of the peer and their ratio. Each
# round runs every benchmark once, ours right before the peer's, so that
# on a shared machine both of a pair meet about the same load (go test
# -count 3 would run ours three times, then the peer three times). Extra
# arguments go to the test binary (for example -test.benchtime 3s or
# -test.bench ReadAll). The raw output is kept in $OUT (a temporary file
# unless set).
set -euo pipefail
cd "$(dirname "$0")"
out=${OUT:-$(mktemp)}
bin=$(mktemp)
trap 'rm -f "$bin"' EXIT
go test -c -o "$bin" .
: >"$out"
for round in $(seq "${COUNT:-3}"); do
	echo "# round $round: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out"
	"$bin" -test.run '^$' -test.bench . -test.timeout 60m "$@" | tee -a "$out"
done
echo "# end: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg); raw output in $out"

# The median of each benchmark's events/s, then ours against the peer for
# each pair named .../ours and .../peer.
awk '
/^Benchmark/ {
	name = $1
	sub(/-[0-9]+$/, "", name)
	for (i = 2; i < NF; i++) if ($(i + 1) == "events/s") {
		n[name]++
		v[name, n[name]] = $i
	}
	if (!(name in seen)) { seen[name] = 1; order[++names] = name }
}
function median(name,    k, j, t, a) {
	for (k = 1; k <= n[name]; k++) a[k] = v[name, k] + 0
	for (k = 2; k <= n[name]; k++)
		for (j = k; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	if (n[name] % 2) return a[(n[name] + 1) / 2]
	return (a[n[name] / 2] + a[n[name] / 2 + 1]) / 2
}
END {
	printf "\n%-34s %14s %14s %7s\n", "benchmark (median events/s)", "ours", "peer", "ratio"
	for (k = 1; k <= names; k++) {
		name = order[k]
		if (name !~ /\/ours$/) continue
		base = substr(name, 1, length(name) - 5)
		peer = base "/peer"
		if (!(peer in n)) continue
		o = median(name); p = median(peer)
		printf "%-34s %14.0f %14.0f %6.2fx\n", base, o, p, o / p
	}
}' "$out"
