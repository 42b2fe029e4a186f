package kafkabus

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
)

// keyMetadata names the message metadata that holds a record's key.
const keyMetadata = "orderflow_key"

// NewPublisher returns the watermill-kafka publisher every record of
// orderflow goes out through: keyed by keyMetadata (the same partitioner
// for every topic, so one key lands in the same partition of each),
// acknowledged by all in-sync replicas.
func NewPublisher(brokers []string, log *slog.Logger) (message.Publisher, error) {
	cfg := kafka.DefaultSaramaSyncPublisherConfig()
	cfg.ClientID = "orderflow"
	cfg.Version = sarama.V2_8_0_0
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Retry.Max = 3
	cfg.Producer.Retry.Backoff = 100 * time.Millisecond
	cfg.Metadata.Retry.Backoff = 250 * time.Millisecond
	cfg.Net.DialTimeout = 3 * time.Second
	cfg.Net.ReadTimeout = 10 * time.Second
	cfg.Net.WriteTimeout = 10 * time.Second
	pub, err := kafka.NewPublisher(kafka.PublisherConfig{
		Brokers: brokers,
		Marshaler: kafka.NewWithPartitioningMarshaler(func(_ string, msg *message.Message) (string, error) {
			return msg.Metadata.Get(keyMetadata), nil
		}),
		OverwriteSaramaConfig: cfg,
	}, watermill.NewSlogLoggerWithLevelMapping(log.With("component", "kafka-publisher"), map[slog.Level]slog.Level{
		slog.LevelInfo: slog.LevelDebug,
	}))
	if err != nil {
		return nil, fmt.Errorf("kafka publisher for %v: %w", brokers, err)
	}
	return pub, nil
}
