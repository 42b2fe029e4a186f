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
# each pair named .../ours and .../peer: the ratio of the medians, and the
# median of the rounds' own ratios (each round's ours over its peer's).
awk '
/^Benchmark/ {
	name = $1
	sub(/-[0-9]+$/, "", name)
	for (i = 2; i < NF; i++) if ($(i + 1) == "events/s") {
		n[name]++
		v[name, n[name]] = $i + 0
	}
	if (!(name in seen)) { seen[name] = 1; order[++names] = name }
}
function median(a, count,    k, j, t) {
	for (k = 2; k <= count; k++)
		for (j = k; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	if (count % 2) return a[(count + 1) / 2]
	return (a[count / 2] + a[count / 2 + 1]) / 2
}
END {
	printf "\n%-36s %10s %10s %8s %12s\n", "benchmark (median events/s)", "ours", "peer", "ratio", "round ratio"
	for (k = 1; k <= names; k++) {
		name = order[k]
		if (name !~ /\/ours$/) continue
		base = substr(name, 1, length(name) - 5)
		peer = base "/peer"
		if (!(peer in n) || n[peer] != n[name]) continue
		split("", a); split("", b); split("", r)
		for (j = 1; j <= n[name]; j++) { a[j] = v[name, j]; b[j] = v[peer, j]; r[j] = a[j] / b[j] }
		o = median(a, n[name]); p = median(b, n[peer]); rr = median(r, n[name])
		printf "%-36s %10.0f %10.0f %7.2fx %11.2fx\n", base, o, p, o / p, rr
	}
}' "$out"
