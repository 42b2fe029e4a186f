package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kcatRecord is a record as `kcat -C -J` prints it, its headers by name (kcat prints them as
// a list of names and values).
type kcatRecord struct {
	Topic      string            `json:"topic"`
	Partition  int32             `json:"partition"`
	Offset     int64             `json:"offset"`
	HeaderList []string          `json:"headers"`
	Key        string            `json:"key"`
	Payload    string            `json:"payload"`
	Headers    map[string]string `json:"-"`
}

// kcatTopic reads a whole topic with kcat, as another team would, at read_committed (librdkafka's
// default).
func kcatTopic(t *testing.T, broker, topic string) []kcatRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, needKcat(t), "-C", "-b", broker, "-t", topic, "-J", "-e", "-q").Output()
	if err != nil {
		t.Fatalf("kcat -C -t %s: %v", topic, err)
	}
	var recs []kcatRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r kcatRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("kcat printed %q: %v", sc.Text(), err)
		}
		r.Headers = map[string]string{}
		for i := 0; i+1 < len(r.HeaderList); i += 2 {
			r.Headers[r.HeaderList[i]] = r.HeaderList[i+1]
		}
		recs = append(recs, r)
	}
	return recs
}

// needKcat is the path of kcat (Debian's package kcat, which .ci/test installs).
func needKcat(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("this test needs kcat (apt-get install -y kcat; .ci/test does it): %v", err)
	}
	return path
}

// TestSplitTopicsReadByAnOutsideTool is the README's "reading orderflow's topics from outside":
// after the walkthrough on the three services, kcat reads the topics and finds CloudEvents in
// binary mode (the attributes in ce_ headers, the event's data as the value) on the partitions
// the Java client's default partitioner gives their keys; and a command another team's producer
// sends with kcat, placed by that partitioner, is carried out by the inventory service.
func TestSplitTopicsReadByAnOutsideTool(t *testing.T) {
	t.Parallel()
	s := newSplitDeployment(t)
	// Without a fetch linger the API's own orders member takes no command in its process: every
	// command and its reply cross Kafka, as they do between processes, and are read here.
	c := s.service("api", apiContexts, "--kafka-fetch-linger", "0").client
	s.service("inventory", "inventory")
	s.service("checks", checkContexts)
	broker := s.broker.addr

	c.registerCustomer(t, "ada", "Ada Lovelace", "ada@example.com", "12 Analytical St")
	c.upsertProduct(t, "kettle", "Kettle", 2500)
	c.addStock(t, "kettle", 10)
	c.placeValidated(t, "1001", "ada", []Line{{"kettle", 2}})
	c.payOrder(t, "1001", 5000)

	// The order's events on orderflow.orders, keyed 1001, on partition 0 of 12: where the Java
	// client puts key 1001.
	var placed *kcatRecord
	var types []string
	for _, r := range kcatTopic(t, broker, "orderflow.orders") {
		if r.Key != "1001" {
			continue
		}
		if r.Partition != 0 {
			t.Errorf("key 1001 on partition %d of orderflow.orders, want 0 (the Java partitioner's)", r.Partition)
		}
		types = append(types, r.Headers["ce_type"])
		if r.Headers["ce_type"] == "orderflow.OrderPlaced.v1" {
			placed = &r
		}
	}
	if strings.Join(types, " ") != "orderflow.OrderPlaced.v1 orderflow.OrderValidated.v2 orderflow.OrderPaid.v1" {
		t.Errorf("ce_type of order 1001's records: %v", types)
	}
	if placed == nil {
		t.Fatal("no OrderPlaced record of order 1001 on orderflow.orders")
	}
	h := placed.Headers
	for name, want := range map[string]string{"ce_specversion": "1.0", "ce_source": "orderflow/orders", "ce_subject": "order-1001",
		"content-type": "application/json", "ce_streamversion": "1"} {
		if h[name] != want {
			t.Errorf("OrderPlaced header %s = %q, want %q (headers %v)", name, h[name], want, h)
		}
	}
	for _, name := range []string{"ce_id", "ce_position", "ce_correlationid"} {
		if h[name] == "" {
			t.Errorf("OrderPlaced has no %s header (headers %v)", name, h)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, h["ce_time"]); err != nil {
		t.Errorf("OrderPlaced ce_time: %v", err)
	}
	var data struct {
		CustomerID string `json:"customerId"`
	}
	if err := json.Unmarshal([]byte(placed.Payload), &data); err != nil || data.CustomerID != "ada" {
		t.Errorf("OrderPlaced value %q: want the event's data (customerId ada), %v", placed.Payload, err)
	}

	// Re-keyed by product: kettle on partition 2 of orderflow.orders-by-product.
	found := false
	for _, r := range kcatTopic(t, broker, "orderflow.orders-by-product") {
		if r.Key == "kettle" && r.Headers["ce_type"] == "orderflow.OrderPlaced.v1" && r.Headers["ce_subject"] == "order-1001" {
			found = true
			if r.Partition != 2 {
				t.Errorf("key kettle on partition %d of orderflow.orders-by-product, want 2 (the Java partitioner's)", r.Partition)
			}
		}
	}
	if !found {
		t.Error("no OrderPlaced record of order 1001 keyed kettle on orderflow.orders-by-product")
	}

	// The command and its reply.
	var commandID string
	for _, r := range kcatTopic(t, broker, "orderflow.orders.commands") {
		if r.Key == "1001" && r.Headers["ce_type"] == "orderflow.command.PlaceOrder.v1" {
			commandID = r.Headers["ce_id"]
			if r.Headers["ce_source"] != "orderflow/api" || r.Headers["ce_subject"] != "1001" || !strings.Contains(r.Payload, `"kettle"`) {
				t.Errorf("PlaceOrder record: headers %v, value %s", r.Headers, r.Payload)
			}
		}
	}
	if commandID == "" {
		t.Fatal("no PlaceOrder command keyed 1001 on orderflow.orders.commands")
	}
	answered := false
	for _, r := range kcatTopic(t, broker, "orderflow.replies") {
		if r.Headers["ce_subject"] == commandID {
			answered = r.Headers["ce_type"] == "orderflow.reply.v1" && r.Headers["ce_source"] == "orderflow/orders" &&
				strings.Contains(r.Payload, `"commandId":"`+commandID+`"`)
			if !answered {
				t.Errorf("reply to %s: headers %v, value %s", commandID, r.Headers, r.Payload)
			}
		}
	}
	if !answered {
		t.Errorf("no reply to the PlaceOrder command %s on orderflow.replies", commandID)
	}

	// Another team adds stock with kcat: a CloudEvent in binary mode, keyed by product and placed
	// by the Java partitioner. The inventory service carries it out once, though the producer sent
	// it twice (a retry); a command whose id lacks the cmd- prefix (its events could not be found
	// by it, so a second delivery would be carried out again) is refused with a reply.
	sendAddStock := func(id string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		produce := exec.CommandContext(ctx, needKcat(t), "-P", "-b", broker, "-t", "orderflow.inventory.commands", "-k", "kettle",
			"-X", "partitioner=murmur2_random",
			"-H", "ce_specversion=1.0", "-H", "ce_id="+id, "-H", "ce_source=team-x/warehouse",
			"-H", "ce_type=orderflow.command.AddStock.v1", "-H", "ce_subject=kettle", "-H", "content-type=application/json")
		produce.Stdin = strings.NewReader(`{"productId":"kettle","quantity":5}` + "\n")
		if out, err := produce.CombinedOutput(); err != nil {
			t.Fatalf("kcat -P: %v\n%s", err, out)
		}
	}
	sendAddStock("team-x-restock-0")
	sendAddStock("cmd-team-x-restock-1")
	sendAddStock("cmd-team-x-restock-1")
	replies := func() map[string][]string {
		out := map[string][]string{}
		for _, r := range kcatTopic(t, broker, "orderflow.replies") {
			out[r.Headers["ce_subject"]] = append(out[r.Headers["ce_subject"]], r.Payload)
		}
		return out
	}
	eventually(t, settleTimeout, func() (bool, string) {
		got := replies()
		return len(got["team-x-restock-0"]) == 1 && len(got["cmd-team-x-restock-1"]) == 2,
			fmt.Sprintf("replies to the outside commands: %v", got)
	})
	got := replies()
	if r := got["team-x-restock-0"][0]; !strings.Contains(r, `"code":"BAD_USER_INPUT"`) || !strings.Contains(r, "must start with cmd-") {
		t.Errorf("reply to a command id without cmd-: %s", r)
	}
	for _, r := range got["cmd-team-x-restock-1"] {
		if strings.Contains(r, `"code"`) {
			t.Errorf("reply to the restock: %s", r)
		}
	}
	c.quiesce(t)
	c.waitStock(t, "kettle", 15, 2)
	for _, r := range kcatTopic(t, broker, "orderflow.inventory.commands") {
		if strings.HasPrefix(r.Headers["ce_id"], "team-x") || strings.HasPrefix(r.Headers["ce_id"], "cmd-team-x") {
			if r.Partition != 2 {
				t.Errorf("kcat's command keyed kettle on partition %d, want 2", r.Partition)
			}
		}
	}

	// Every record of every topic is the data its ce_type's published schema
	// describes (orderflow schemas, from the same types the code encodes with).
	dir := t.TempDir()
	if res := runBinary(t, s.bin, time.Minute, "schemas", "--out", dir); res.code != 0 {
		t.Fatalf("orderflow schemas --out: exit %d\n%s", res.code, res.stderr)
	}
	byType := map[string]map[string]any{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var schema map[string]any
		if err := json.Unmarshal(b, &schema); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		byType[schema["title"].(string)] = schema
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	validated := map[string]int{}
	for _, topic := range []string{"orderflow.orders", "orderflow.orders-by-product", "orderflow.orders-by-customer",
		"orderflow.order-validations", "orderflow.catalog", "orderflow.customers", "orderflow.inventory", "orderflow.fraud",
		"orderflow.customercheck", "orderflow.payments", "orderflow.notifications", "orderflow.orders.commands",
		"orderflow.catalog.commands", "orderflow.customers.commands", "orderflow.inventory.commands", "orderflow.payments.commands",
		"orderflow.replies"} {
		for _, r := range kcatTopic(t, broker, topic) {
			ce := r.Headers["ce_type"]
			schema, ok := byType[ce]
			if !ok {
				t.Errorf("%s offset %d: no published schema for ce_type %q", topic, r.Offset, ce)
				continue
			}
			var doc any
			if err := json.Unmarshal([]byte(r.Payload), &doc); err != nil {
				t.Errorf("%s offset %d: the value is not JSON: %v", topic, r.Offset, err)
				continue
			}
			if err := validate(schema, doc, ce); err != nil {
				t.Errorf("%s offset %d does not validate against its schema: %v\n%s", topic, r.Offset, err, r.Payload)
				continue
			}
			validated[ce]++
		}
	}
	for _, ce := range []string{"orderflow.OrderPlaced.v1", "orderflow.StockReserved.v1", "orderflow.CustomerRegistered.v2",
		"orderflow.command.PlaceOrder.v1", "orderflow.command.AddStock.v1", "orderflow.PaymentReceived.v1", "orderflow.reply.v1"} {
		if validated[ce] == 0 {
			t.Errorf("no record of %s was seen to validate (validated: %v)", ce, validated)
		}
	}
	t.Logf("records validated against their schemas: %v", validated)
	s.checkNoErrorsLogged()
}
