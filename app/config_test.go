package app

import (
	"strings"
	"testing"
	"time"

	"orderflow/commands"
	"orderflow/events"
)

func TestRequestLimitFlags(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(Config) bool
		wantErr string
	}{
		{name: "defaults", check: func(c Config) bool {
			return c.Limits.MaxBodyBytes == 1<<20 && c.Limits.MaxMutations == 10 && c.Limits.Introspection &&
				c.ReadTimeout == 10*time.Second && c.WriteTimeout == time.Minute
		}},
		{name: "env fallback", env: map[string]string{"ORDERFLOW_MAX_BODY_BYTES": "4096", "ORDERFLOW_INTROSPECTION": "false",
			"ORDERFLOW_WS_INIT_TIMEOUT": "3s", "ORDERFLOW_QUERY_CACHE_BYTES": "100"},
			check: func(c Config) bool {
				return c.Limits.MaxBodyBytes == 4096 && !c.Limits.Introspection &&
					c.Limits.WebsocketInitTimeout == 3*time.Second && c.Limits.QueryCacheBytes == 100
			}},
		{name: "flag wins", args: []string{"--max-aliases", "7", "--max-complexity", "50"},
			env:   map[string]string{"ORDERFLOW_MAX_ALIASES": "9"},
			check: func(c Config) bool { return c.Limits.MaxAliases == 7 && c.Limits.MaxComplexity == 50 }},
		{name: "write timeout must leave room for the waits",
			args:    []string{"--read-timeout", "10s", "--wait-timeout", "30s", "--write-timeout", "60s"},
			wantErr: "--write-timeout"},
		{name: "write timeout above read + 2 × wait",
			args:  []string{"--read-timeout", "10s", "--wait-timeout", "30s", "--write-timeout", "71s"},
			check: func(c Config) bool { return c.WriteTimeout == 71*time.Second }},
		{name: "zero limit", args: []string{"--max-mutations", "0"}, wantErr: "--max-mutations"},
		{name: "zero cache", args: []string{"--query-cache-bytes", "0"}, wantErr: "--query-cache-bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseFlags("orderflow", tt.args, env(tt.env))
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one about %s", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case !tt.check(cfg):
				t.Errorf("config %+v", cfg)
			}
		})
	}
}

func TestDurabilityFlag(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		env     map[string]string
		want    events.Durability
		wantErr string
	}{
		{nil, nil, events.DurabilityFull, ""},
		{[]string{"--durability", "normal"}, nil, events.DurabilityNormal, ""},
		{nil, map[string]string{"ORDERFLOW_DURABILITY": "normal"}, events.DurabilityNormal, ""},
		{[]string{"--durability", "sometimes"}, nil, "", `durability "sometimes"`},
		{nil, map[string]string{"ORDERFLOW_DURABILITY": "sometimes"}, "", "ORDERFLOW_DURABILITY"},
	} {
		cfg, err := ParseFlags("orderflow serve", tt.args, func(k string) string { return tt.env[k] })
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v %v: err = %v, want one with %q", tt.args, tt.env, err, tt.wantErr)
			}
			continue
		}
		if err != nil || cfg.Durability != tt.want {
			t.Errorf("%v %v: durability %q, err %v; want %q", tt.args, tt.env, cfg.Durability, err, tt.want)
		}
	}
}

func TestTransportFlags(t *testing.T) {
	all := strings.Join(commands.Contexts(), ",")
	for _, tt := range []struct {
		args     []string
		env      map[string]string
		split    bool
		brokers  string
		contexts string
		wantErr  string
	}{
		{nil, nil, false, "", all, ""},
		{[]string{"--transport", "kafka", "--kafka-brokers", "a:9092, b:9092", "--contexts", "inventory"}, nil, true, "a:9092,b:9092", "inventory", ""},
		{nil, map[string]string{"ORDERFLOW_TRANSPORT": "kafka", "ORDERFLOW_KAFKA_BROKERS": "k:1", "ORDERFLOW_CONTEXTS": "fraud,customercheck"},
			true, "k:1", "fraud,customercheck", ""},
		{[]string{"--transport", "kafka", "--kafka-brokers", "k:1"}, nil, true, "k:1", all, ""},
		{[]string{"--transport", "carrier-pigeon"}, nil, false, "", "", "--transport must be"},
		{[]string{"--transport", "kafka"}, nil, false, "", "", "needs --kafka-brokers"},
		{[]string{"--contexts", "inventory"}, nil, false, "", "", "needs --transport kafka"},
		{[]string{"--transport", "kafka", "--kafka-brokers", "k:1", "--contexts", "orders"}, nil, true, "k:1", "orders", ""},
		{[]string{"--transport", "kafka", "--kafka-brokers", "k:1", "--contexts", "shipping"}, nil, false, "", "", `unknown context "shipping"`},
		{[]string{"--transport", "kafka", "--kafka-brokers", "k:1", "--kafka-partitions", "0"}, nil, false, "", "", "--kafka-partitions"},
		{[]string{"--transport", "kafka", "--kafka-brokers", "k:1", "--kafka-fetch-linger", "5ms"}, nil, false, "", "", "--kafka-fetch-linger must be 0 or between 10ms and 1s"},
		{[]string{"--transport", "kafka", "--kafka-brokers", "k:1", "--kafka-fetch-linger", "2s"}, nil, false, "", "", "--kafka-fetch-linger"},
		{[]string{"--transport", "kafka", "--kafka-brokers", "k:1", "--seed-from", "http://api-1:8080"}, nil, true, "k:1", all, ""},
		{nil, map[string]string{"ORDERFLOW_TRANSPORT": "kafka", "ORDERFLOW_KAFKA_BROKERS": "k:1", "ORDERFLOW_SEED_FROM": "https://api-1"},
			true, "k:1", all, ""},
		{[]string{"--seed-from", "http://api-1:8080"}, nil, false, "", "", "--seed-from needs --transport kafka"},
		{[]string{"--transport", "kafka", "--kafka-brokers", "k:1", "--seed-from", "api-1:8080"}, nil, false, "", "", "--seed-from must be the http:// or https:// address"},
		{[]string{"--transport", "kafka", "--kafka-brokers", "k:1", "--seed-from", "ftp://api-1"}, nil, false, "", "", "--seed-from must be"},
		// auto is the default, and means nothing in one process; none turns seeding off.
		{[]string{"--seed-from", "auto"}, nil, false, "", all, ""},
		{[]string{"--seed-from", "none"}, nil, false, "", all, ""},
		{[]string{"--transport", "kafka", "--kafka-brokers", "k:1", "--seed-from", "none", "--advertise-url", "https://api-1.shop.internal:8443"}, nil, true, "k:1", all, ""},
		{nil, map[string]string{"ORDERFLOW_TRANSPORT": "kafka", "ORDERFLOW_KAFKA_BROKERS": "k:1", "ORDERFLOW_ADVERTISE_URL": "none"}, true, "k:1", all, ""},
		{[]string{"--transport", "kafka", "--kafka-brokers", "k:1", "--advertise-url", "api-1:8080"}, nil, false, "", "", "--advertise-url must be the http:// or https:// address"},
	} {
		cfg, err := ParseFlags("orderflow serve", tt.args, func(k string) string { return tt.env[k] })
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v %v: err = %v, want one with %q", tt.args, tt.env, err, tt.wantErr)
			}
			continue
		}
		if err != nil || cfg.Split() != tt.split || strings.Join(cfg.KafkaBrokers, ",") != tt.brokers ||
			strings.Join(cfg.Contexts, ",") != tt.contexts || cfg.KafkaPartitions != 12 {
			t.Errorf("%v %v: %+v, err %v", tt.args, tt.env, cfg, err)
		}
	}
}

// TestFetchLinger: --kafka-fetch-linger (or its environment variable)
// reaches the cluster every Kafka client is made of; 0 turns it off.
func TestFetchLinger(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  map[string]string
		want time.Duration
	}{
		{nil, nil, DefaultConfig().KafkaFetchLinger},
		{[]string{"--kafka-fetch-linger", "25ms"}, nil, 25 * time.Millisecond},
		{[]string{"--kafka-fetch-linger", "0"}, nil, 0},
		{nil, map[string]string{"ORDERFLOW_KAFKA_FETCH_LINGER": "1s"}, time.Second},
	} {
		args := append([]string{"--transport", "kafka", "--kafka-brokers", "k:1"}, tt.args...)
		cfg, err := ParseFlags("orderflow serve", args, func(k string) string { return tt.env[k] })
		if err != nil {
			t.Fatalf("%v %v: %v", tt.args, tt.env, err)
		}
		cluster, err := cfg.KafkaCluster()
		if err != nil || cluster.FetchLinger != tt.want {
			t.Errorf("%v %v: linger %s (err %v), want %s", tt.args, tt.env, cluster.FetchLinger, err, tt.want)
		}
	}
}

// TestCDCFlag: --cdc-pg (or ORDERFLOW_CDC_PG) names the legacy database the
// server follows, and needs the contexts whose streams it writes.
func TestCDCFlag(t *testing.T) {
	dsn := "postgres://orderflow_cdc@legacy-db:5432/shop"
	for _, tt := range []struct {
		args    []string
		env     map[string]string
		wantErr string
	}{
		{[]string{"--cdc-pg", dsn}, nil, ""},
		{nil, map[string]string{"ORDERFLOW_CDC_PG": dsn}, ""},
		{[]string{"--cdc-pg", dsn, "--transport", "kafka", "--kafka-brokers", "k:1", "--contexts", "inventory"}, nil,
			"--cdc-pg runs in one process"},
	} {
		cfg, err := ParseFlags("orderflow serve", tt.args, func(k string) string { return tt.env[k] })
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: err = %v, want one with %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || cfg.CDCPG != dsn {
			t.Errorf("%v %v: CDCPG = %q, err %v", tt.args, tt.env, cfg.CDCPG, err)
		}
	}
}

// TestCDCSourceFlags: serve takes the slot, the publication and the table
// mappings of --cdc-pg from the flags and environment variables `orderflow
// cdc` has for them (--slot, --publication, --products, --customers), the
// command line winning, the defaults being cdc's; a name PostgreSQL would
// not take is refused with --cdc-pg.
func TestCDCSourceFlags(t *testing.T) {
	dsn := "postgres://orderflow_cdc@legacy-db:5432/shop"
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string // slot publication products customers
		wantErr string
	}{
		{name: "defaults", args: []string{"--cdc-pg", dsn},
			want: "orderflow orderflow public.products(id,name,price_cents) public.customers(id,name,email,address)"},
		{name: "flags", args: []string{"--cdc-pg", dsn, "--slot", "shop_slot", "--publication", "shop_pub",
			"--products", "legacy.items(sku, title, cents)", "--customers", "clients(cid,full_name,mail,addr)"},
			want: "shop_slot shop_pub legacy.items(sku,title,cents) public.clients(cid,full_name,mail,addr)"},
		{name: "environment", args: []string{"--cdc-pg", dsn}, env: map[string]string{"ORDERFLOW_SLOT": "env_slot",
			"ORDERFLOW_PUBLICATION": "env_pub", "ORDERFLOW_PRODUCTS": "items(sku,title,cents)", "ORDERFLOW_CUSTOMERS": "clients(a,b,c,d)"},
			want: "env_slot env_pub public.items(sku,title,cents) public.clients(a,b,c,d)"},
		{name: "the command line wins", args: []string{"--cdc-pg", dsn, "--slot", "flag_slot"},
			env:  map[string]string{"ORDERFLOW_SLOT": "env_slot"},
			want: "flag_slot orderflow public.products(id,name,price_cents) public.customers(id,name,email,address)"},
		{name: "a slot PostgreSQL would not take", args: []string{"--cdc-pg", dsn, "--slot", "Shop-Slot"},
			wantErr: `--slot "Shop-Slot"`},
		{name: "a mapping short of columns", args: []string{"--cdc-pg", dsn, "--products", "items(sku,title)"},
			wantErr: "want 3 columns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseFlags("orderflow serve", tt.args, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			src := cfg.CDCSource
			if got := strings.Join([]string{src.Slot, src.Publication, src.Products.String(), src.Customers.String()}, " "); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestDeadlineFlags(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name                string
		args                []string
		env                 map[string]string
		validation, payment time.Duration
		wantErr             bool
	}{
		{name: "defaults", validation: time.Minute, payment: 24 * time.Hour},
		{name: "flags", args: []string{"--validation-deadline", "30s", "--payment-deadline", "2h"}, validation: 30 * time.Second, payment: 2 * time.Hour},
		{name: "env fallback", env: map[string]string{"ORDERFLOW_VALIDATION_DEADLINE": "5s", "ORDERFLOW_PAYMENT_DEADLINE": "10m"},
			validation: 5 * time.Second, payment: 10 * time.Minute},
		{name: "zero turns one off", args: []string{"--payment-deadline", "0"}, validation: time.Minute},
		{name: "negative", args: []string{"--validation-deadline", "-1s"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseFlags("orderflow", tt.args, env(tt.env))
			switch {
			case tt.wantErr:
				if err == nil || !strings.Contains(err.Error(), "--validation-deadline") {
					t.Fatalf("err = %v, want one about the deadlines", err)
				}
			case err != nil:
				t.Fatal(err)
			case cfg.ValidationDeadline != tt.validation || cfg.PaymentDeadline != tt.payment:
				t.Errorf("deadlines %v and %v, want %v and %v", cfg.ValidationDeadline, cfg.PaymentDeadline, tt.validation, tt.payment)
			}
		})
	}
}
