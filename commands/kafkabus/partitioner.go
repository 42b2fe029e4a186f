package kafkabus

import (
	"hash/fnv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// partitionOf is the partition of a record's key among n, as every
// orderflow producer places it: FNV-1a of the key, as a signed 32-bit
// number, modulo n, made positive (sarama's default hash partitioner, which
// the relay of earlier versions published with through watermill-kafka, so
// the topics they wrote hold keys there). Every producer (the relay's
// Publisher, the transactional feeds) must place keys exactly there: a
// member that takes partition n of its input over catches up on partition
// n of its own topic, so the stream of a key must be in the same partition
// of every topic, old records and new.
func partitionOf(key []byte, n int) int {
	h := fnv.New32a()
	h.Write(key)
	p := int32(h.Sum32()) % int32(n)
	if p < 0 {
		p = -p
	}
	return int(p)
}

// keyPartitioner is partitionOf as a franz-go partitioner.
func keyPartitioner() kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(string) func(*kgo.Record, int) int {
		return func(r *kgo.Record, n int) int { return partitionOf(r.Key, n) }
	})
}
