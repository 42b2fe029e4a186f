package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"orderflow/commands"
	"orderflow/events"
)

// bus is the in-process message bus (Watermill GoChannel) with a router that
// runs every reaction. Everything is behind Watermill's Publisher and
// Subscriber, so a Kafka transport can take its place.
type bus struct {
	pubsub    *gochannel.GoChannel
	router    *message.Router
	runDone   chan struct{}
	cancelRun context.CancelFunc
}

func startBus(ctx context.Context, reg *events.Registry, reactions []commands.Reaction, partitions int, log *slog.Logger) (*bus, error) {
	// Watermill's routine messages (handlers starting, topics without
	// subscribers) are debug detail for us.
	wlog := watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	// The publisher waits until every subscriber acknowledged a message:
	// the relay moves its checkpoint only past handled events, and each
	// topic is delivered in order.
	pubsub := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, wlog)
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 30 * time.Second}, wlog)
	if err != nil {
		return nil, err
	}
	router.AddMiddleware(
		middleware.Recoverer,
		middleware.Retry{
			MaxRetries: 5, InitialInterval: 20 * time.Millisecond, MaxInterval: time.Second, Multiplier: 2,
			Logger: wlog,
		}.Middleware,
	)
	// One handler per reaction, family and partition: a partition is
	// handled in order, partitions in parallel.
	for _, r := range reactions {
		for _, family := range r.Families {
			for p := range partitions {
				topic := events.PartitionTopic(family, p)
				router.AddConsumerHandler(r.Name+"."+topic, topic, pubsub, handle(reg, r, log))
			}
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	b := &bus{pubsub: pubsub, router: router, runDone: make(chan struct{}), cancelRun: cancel}
	go func() {
		defer close(b.runDone)
		if err := router.Run(runCtx); err != nil {
			log.Error("bus router stopped", "err", err)
		}
	}()
	select {
	case <-router.Running():
		return b, nil
	case <-b.runDone:
		return nil, errors.New("bus router did not start")
	case <-ctx.Done():
		b.close()
		return nil, ctx.Err()
	}
}

// handle adapts a reaction to a Watermill handler. An error makes the
// router retry and then nack, so the message is delivered again: events are
// never skipped. Event types the reaction does not list (including those of
// a newer producer this binary does not know) are acknowledged untouched.
func handle(reg *events.Registry, r commands.Reaction, log *slog.Logger) message.NoPublishHandlerFunc {
	return func(msg *message.Message) error {
		e, err := events.FromMessage(msg)
		if err != nil {
			return fmt.Errorf("%s: %w", r.Name, err)
		}
		if !r.Handles(e.Type) {
			return nil // not this reaction's business: no need to decode it
		}
		p, err := reg.Decode(e)
		if err != nil {
			return fmt.Errorf("%s: %w", r.Name, err)
		}
		// What a reaction appends follows from an event already stored.
		if err := r.React(events.Derived(msg.Context()), e, p); err != nil {
			return fmt.Errorf("%s on %s at %d: %w", r.Name, e.Type, e.Position, err)
		}
		return nil
	}
}

func (b *bus) close() error {
	err := b.router.Close()
	b.cancelRun()
	<-b.runDone
	return errors.Join(err, b.pubsub.Close())
}
