package kafkabus

import (
	"github.com/twmb/franz-go/pkg/kgo"
)

// partitionOf is the partition of a record's key among n, as every
// orderflow producer places it and as the Java client's default
// partitioner does (which Kafka Streams, ksqlDB and Kafka Connect use):
// murmur2 of the key's bytes, its sign bit cleared (Java's toPositive),
// modulo n. So a Streams job that joins orderflow.orders with a topic of
// its own keyed by order id is co-partitioned with it, and a record a Java
// producer sends to a command topic reaches the member that owns its key.
//
// Every producer (the relay's Publisher, the transactional feeds) must
// place keys exactly there: a member that takes partition n of its input
// over catches up on partition n of its own topic, so the stream of a key
// must be in the same partition of every topic. Versions before this one
// hashed with FNV-1a (sarama's hash partitioner); topics they wrote must be
// moved before this version runs on them (see the README's upgrade note).
func partitionOf(key []byte, n int) int {
	return int(murmur2(key)&0x7fffffff) % n
}

// murmur2 is the 32-bit MurmurHash2 with the seed and the little-endian
// reading of Kafka's Utils.murmur2, which its default partitioner hashes
// keys with. It is computed on uint32, whose multiplications and shifts
// wrap exactly as Java's int arithmetic with >>> does.
func murmur2(data []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	n := len(data)
	h := uint32(seed) ^ uint32(n)
	full := n &^ 3
	for i := 0; i < full; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	// The last one to three bytes, as the reference's switch falls through.
	switch tail := data[full:]; len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// keyPartitioner is partitionOf as a franz-go partitioner.
func keyPartitioner() kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(string) func(*kgo.Record, int) int {
		return func(r *kgo.Record, n int) int { return partitionOf(r.Key, n) }
	})
}
