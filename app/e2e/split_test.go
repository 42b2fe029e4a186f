package e2e

import (
	"database/sql"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"orderflow/app"
)

// startBroker starts an in-process Kafka-protocol broker (kfake) for the
// test and returns its address.
func startBroker(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100_000_000))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	if len(addrs) != 1 {
		t.Fatalf("broker addresses %v", addrs)
	}
	if _, _, err := net.SplitHostPort(addrs[0]); err != nil {
		t.Fatal(err)
	}
	return addrs[0]
}

// withContexts runs only the given contexts, over Kafka at broker.
func withContexts(broker, contexts string) appOption {
	return func(c *app.Config) {
		c.Transport = app.TransportKafka
		c.KafkaBrokers = []string{broker}
		c.Contexts = strings.Split(contexts, ",")
	}
}

// startSplit starts the three services of the README's split on one
// broker and returns the API's client.
func startSplit(t *testing.T, opts ...appOption) *client {
	broker := startBroker(t)
	api := startApp(t, append(opts, withContexts(broker, "api,orders,catalog,customers,payments"))...)
	startApp(t, append(opts, withContexts(broker, "inventory"))...)
	startApp(t, append(opts, withContexts(broker, "fraud,customercheck,notifications"))...)
	return api
}

func TestSplitWalkthrough(t *testing.T) {
	t.Parallel()
	walkthrough(t, startSplit(t))
}

func TestSplitMetrics(t *testing.T) {
	t.Parallel()
	broker := startBroker(t)
	startApp(t, withContexts(broker, "api,orders,catalog,customers,payments"))
	inv := startApp(t, withContexts(broker, "inventory"))
	resp, err := inv.http.Get(inv.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`orderflow_kafka_transactions_committed_total{context="inventory"}`, `orderflow_kafka_records_in_hand{context="inventory"}`,
		`orderflow_kafka_oldest_in_hand_seconds{context="inventory"}`, "orderflow_log_head_position"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics of the inventory service lacks %s", want)
		}
	}
	// A service without the API serves no GraphQL.
	r, err := inv.http.Post(inv.base+"/graphql", "application/json", strings.NewReader(`{"query":"{ __typename }"}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 404 {
		t.Errorf("POST /graphql on the inventory service = %d, want 404", r.StatusCode)
	}
}

// TestSplitReplayFromTopics re-reads a split deployment's topics from the
// beginning into a new database with `orderflow replay --kafka-brokers`,
// and finds there what the API shows.
func TestSplitReplayFromTopics(t *testing.T) {
	t.Parallel()
	bin := needBinary(t)
	broker := startBroker(t)
	c := startApp(t, withContexts(broker, "api,orders,catalog,customers,payments"))
	startApp(t, withContexts(broker, "inventory"))
	startApp(t, withContexts(broker, "fraud,customercheck,notifications"))
	walkthrough(t, c)

	fresh := filepath.Join(t.TempDir(), "from-topics.db")
	res := runBinary(t, bin, 60*time.Second, "replay", "--db", fresh, "--kafka-brokers", broker)
	if res.code != 0 || !strings.Contains(res.stderr, "events copied from the topics first") {
		t.Fatalf("replay --kafka-brokers exited %d:\n%s", res.code, res.stderr)
	}
	db, err := sql.Open("sqlite3", "file:"+fresh+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stream := range []string{"order-o-walk", "stock-p-widget", "notification-o-walk"} {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM events WHERE stream_id = ?`, stream).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if want := len(c.events(t, stream)); n != want || n == 0 {
			t.Errorf("%s: %d events copied from the topics, the API shows %d", stream, n, want)
		}
	}
	var status string
	if err := db.QueryRow(`SELECT status FROM orders WHERE id = 'o-walk'`).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if want := c.mustOrder(t, "o-walk").Status; status != want {
		t.Errorf("the rebuilt orders read model says o-walk is %s, the API %s", status, want)
	}
}
