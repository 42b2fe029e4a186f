package kafkabus

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TrimCommands deletes from a context's command topic every command its
// consumer group has carried out (below the offsets it committed): they
// are answered, and no one reads them again. A command that names a
// customer's personal data (registerCustomer, updateCustomerAddress)
// travels in the clear in that topic, so an erasure trims the customers'
// command topic once its own command was carried out: what is left
// readable there is only what the context has not carried out yet.
func TrimCommands(ctx context.Context, cl *kgo.Client, context string) error {
	adm := kadm.NewClient(cl)
	committed, err := adm.FetchOffsets(ctx, GroupName(context))
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return fmt.Errorf("read the offsets of group %s: %w", GroupName(context), err)
	}
	topic := CommandTopic(context)
	trim := kadm.Offsets{}
	committed.Offsets().Each(func(o kadm.Offset) {
		if o.Topic == topic && o.At > 0 {
			trim.Add(kadm.Offset{Topic: o.Topic, Partition: o.Partition, At: o.At})
		}
	})
	if len(trim) == 0 {
		return nil
	}
	resp, err := adm.DeleteRecords(ctx, trim)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("delete the carried out commands of %s: %w", topic, err)
	}
	return nil
}
