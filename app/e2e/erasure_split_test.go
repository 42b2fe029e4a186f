package e2e

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/commands/kafkabus"
)

// readTopics reads every record of every topic on the broker, as any Kafka
// client can: from the first offset the broker still has to the end, aborted
// transactions and control records included.
func readTopics(t *testing.T, broker string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admCl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	starts, err := adm.ListStartOffsets(ctx, topics.Names()...)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics.Names()...)
	if err != nil {
		t.Fatal(err)
	}
	consume := map[string]map[int32]kgo.Offset{}
	left := map[string]int64{} // topic/partition → end offset not reached yet
	ends.Each(func(o kadm.ListedOffset) {
		start, _ := starts.Lookup(o.Topic, o.Partition)
		if o.Offset <= start.Offset {
			return // nothing readable
		}
		if consume[o.Topic] == nil {
			consume[o.Topic] = map[int32]kgo.Offset{}
		}
		consume[o.Topic][o.Partition] = kgo.NewOffset().AtStart()
		left[fmt.Sprintf("%s/%d", o.Topic, o.Partition)] = o.Offset
	})
	if len(left) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumePartitions(consume),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading the topics: %v; partitions not read to their end: %v", ctx.Err(), left)
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			key := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
			if end, ok := left[key]; ok && r.Offset+1 >= end {
				delete(left, key)
			}
		})
	}
	return out
}

// recordsHolding says which topics hold each string, anywhere in a record:
// its key, value or headers.
func recordsHolding(recs []*kgo.Record, needles []string) map[string][]string {
	found := map[string][]string{}
	for _, r := range recs {
		var b bytes.Buffer
		b.Write(r.Key)
		b.Write(r.Value)
		for _, h := range r.Headers {
			b.WriteString(h.Key)
			b.Write(h.Value)
		}
		for _, n := range needles {
			if bytes.Contains(b.Bytes(), []byte(n)) {
				found[n] = append(found[n], r.Topic)
			}
		}
	}
	return found
}

// TestSplitForgetCustomerLeavesNothingInTheTopics runs the split with the
// customers context in a process of its own: its keys reach the API (which
// reads the customer back) and the notifications context (which seals the
// confirmation under the same key) through the keys topic. After
// forgetCustomer, a Kafka client reading every topic from its start finds
// none of the customer's strings, and the keys topic, once compacted, no
// longer holds their key (only its tombstone), so the sealed copies cannot
// be opened; every service's database files are free of them too, and a new
// order for them fails UNKNOWN_CUSTOMER.
//
// It runs twice: with customers in a process of their own, and in the API's
// process as the README splits it.
func TestSplitForgetCustomerLeavesNothingInTheTopics(t *testing.T) {
	t.Parallel()
	for _, layout := range []struct {
		name      string
		api       string
		customers bool // in a process of their own
	}{
		{"customers alone", "api,orders,catalog,payments", true},
		{"customers with the API", apiContexts, false},
	} {
		t.Run(layout.name, func(t *testing.T) {
			t.Parallel()
			s := newSplitDeployment(t)
			c := s.service("api", layout.api).client
			owner := "api"
			if layout.customers {
				s.service("customers", "customers")
				owner = "customers"
			}
			s.service("inventory", "inventory")
			s.service("checks", checkContexts)
			forgetInTheSplit(t, s, c, owner)
		})
	}
}

// forgetInTheSplit is the test of one layout; owner is the service that
// runs the customers context.
func forgetInTheSplit(t *testing.T, s *splitDeployment, c *client, owner string) {

	secrets := []string{"Zebulon Quackenbush", "Quackenbush", "zebulon@quackenbush.example", "77 Forgetme Lane", "Forgetme", "88 Movedaway Court", "Movedaway"}
	c.registerCustomer(t, "c-zeb", "Zebulon Quackenbush", "zebulon@quackenbush.example", "77 Forgetme Lane")
	c.registerCustomer(t, "c-kez", "Keziah Keepsake", "keziah@keepsake.example", "5 Stayput Road")
	c.upsertProduct(t, "p-er", "Samovar Distinctive", 2500)
	c.addStock(t, "p-er", 50)
	if cu := c.customer(t, "c-zeb"); cu == nil || cu.Name != "Zebulon Quackenbush" {
		t.Fatalf("the API reads the customer as %+v: it has not got their key", cu)
	}
	paid := c.placeValidated(t, "o-zeb-1", "c-zeb", []Line{{ProductID: "p-er", Quantity: 2}})
	c.updateCustomerAddress(t, "c-zeb", "88 Movedaway Court")
	c.payOrder(t, "o-zeb-1", paid.TotalCents)
	if n := c.waitNotification(t, "o-zeb-1"); n.Email != "zebulon@quackenbush.example" || n.Address != "88 Movedaway Court" {
		t.Fatalf("the confirmation the notifications service sent = %+v", n)
	}

	// Before: the commands to the customers context carry the data in the
	// clear; the events carry it sealed.
	before := recordsHolding(readTopics(t, s.broker.addr), secrets)
	if len(before["zebulon@quackenbush.example"]) == 0 {
		t.Fatal("before forgetting, the registerCustomer command is not read from the customers' command topic")
	}
	for _, topic := range before["zebulon@quackenbush.example"] {
		if topic != kafkabus.CommandTopic("customers") {
			t.Fatalf("before forgetting, the email is in the clear in %s", topic)
		}
	}

	if got := c.forgetCustomer(t, "c-zeb"); !got.Forgotten || got.Name != "" || got.Email != "" || got.Address != "" {
		t.Fatalf("forgetCustomer = %+v", got)
	}
	// The process that answered and the one that owns the customer are
	// clean when the mutation answers: no string, and the key deleted.
	for _, name := range []string{"api", owner} {
		if found := filesHolding(t, filepath.Dir(s.dbPath(name)), secrets); len(found) > 0 {
			t.Errorf("right after forgetCustomer the files of %s hold %v", name, found)
		}
		var key []byte
		if err := openBeside(t, s.dbPath(name)).QueryRow(`SELECT key FROM subject_keys WHERE subject = 'customer-c-zeb'`).Scan(&key); err != nil || key != nil {
			t.Errorf("right after forgetCustomer, %s holds the key %x (%v), want a keyless row", name, key, err)
		}
	}
	recs := readTopics(t, s.broker.addr)
	found := recordsHolding(recs, append(append([]string{}, secrets...), "Samovar Distinctive"))
	for _, secret := range secrets {
		if len(found[secret]) > 0 {
			t.Errorf("after forgetting, %q is readable in %v", secret, found[secret])
		}
	}
	if len(found["Samovar Distinctive"]) == 0 {
		t.Error("the product's name, in the clear in the catalog's events, is in no topic: the search cannot be trusted")
	}

	// The key leaves the keys topic once the log cleaner has passed; the
	// tombstone stays, so a service that starts later knows.
	keyOf := func(recs []*kgo.Record, subject string) (key, tombstone bool) {
		for _, r := range recs {
			if r.Topic == kafkabus.KeysTopic && string(r.Key) == subject {
				if r.Value == nil {
					tombstone = true
				} else {
					key = true
				}
			}
		}
		return key, tombstone
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		key, tombstone := keyOf(readTopics(t, s.broker.addr), "customer-c-zeb")
		return !key && tombstone, fmt.Sprintf("keys topic: key record %v, tombstone %v", key, tombstone)
	})
	if key, _ := keyOf(recs, "customer-c-kez"); !key {
		t.Error("the keys topic holds no key of the customer who stays")
	}

	// No service keeps a byte of them, nor their key, once it read the
	// tombstone.
	dbs := map[string]string{}
	for _, name := range []string{"api", owner, "inventory", "checks"} {
		dbs[name] = filepath.Dir(s.dbPath(name))
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		for name, dir := range dbs {
			if found := filesHolding(t, dir, secrets); len(found) > 0 {
				return false, fmt.Sprintf("the files of %s hold %v", name, found)
			}
		}
		return true, ""
	})

	failed := c.placeOrder(t, "o-zeb-2", "c-zeb", []Line{{ProductID: "p-er", Quantity: 1}}, true)
	if failed.Status != "FAILED" || !failed.hasReason("UNKNOWN_CUSTOMER") {
		t.Fatalf("an order after forgetting = %+v, want FAILED with UNKNOWN_CUSTOMER", failed)
	}
	if orders := c.allOrders(t, "c-zeb", "", 10); len(orders) != 2 {
		t.Fatalf("the customer's orders = %+v, want both kept", orders)
	}
	s.checkNoErrorsLogged()
}
