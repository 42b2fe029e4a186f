package events

import (
	"hash/fnv"
	"strings"
	"time"
)

// RelayCheckpoint is the checkpoint of the relay of an earlier version,
// which published the log to an in-process bus; a reaction of a database
// written then starts from it (see Consumer.Run).
const RelayCheckpoint = "relay"

// Family is the stream kind of a stream id: order-42 → order.
func Family(streamID string) string {
	family, _, _ := strings.Cut(streamID, "-")
	return family
}

// Partition is the partition of a key (a stream id, or a consumer's routing
// key) among n: everything with one key lands in one partition, so it is
// handled in order, while different keys are handled in parallel.
func Partition(key string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// checkpointEvery is how often a log reader records its progress.
const checkpointEvery = 50 * time.Millisecond
