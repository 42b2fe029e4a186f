package load

import (
	"flag"
	"fmt"
	"net/url"
	"time"

	"orderflow/app/flags"
	"orderflow/domain/inventory"
)

// Limits of the flags. maxLines mirrors the order rules of the domain;
// maxStock is the most one addStock may add.
const (
	maxClients         = 10000
	maxSeedConcurrency = 1000
	maxLines           = 100
	maxStock           = inventory.MaxAddQuantity
)

// config is what one run of `orderflow load` was told.
type config struct {
	target          string // the GraphQL endpoint, path included
	token           string // sent as Authorization: Bearer when not empty
	clients         int
	duration        time.Duration
	customers       int
	products        int
	stock           int
	lines           int
	seedConcurrency int
}

func defaultConfig() config {
	return config{
		target:          "http://localhost:8080/graphql",
		clients:         64,
		duration:        30 * time.Second,
		customers:       500,
		products:        50,
		stock:           1000000,
		lines:           1,
		seedConcurrency: 16,
	}
}

// flagSet declares the flags into c. Like every command's, they have
// their usage printed only when asked to (flags.ParseArgs).
func flagSet(c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("orderflow load", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.target, "target", c.target, "GraphQL endpoint of the orderflow to load; a base URL gets /graphql appended")
	fs.StringVar(&c.token, "token", c.token,
		"admin token for a server run with --auth-secret (make one with: orderflow token --role admin --sub load)")
	fs.IntVar(&c.clients, "clients", c.clients, "concurrent clients placing orders")
	fs.DurationVar(&c.duration, "duration", c.duration, "how long the clients place orders")
	fs.IntVar(&c.customers, "customers", c.customers, "customers to register; orders go to them round-robin")
	fs.IntVar(&c.products, "products", c.products, "products to create, priced 100 cents each")
	fs.IntVar(&c.stock, "stock", c.stock, "units of stock added to each product")
	fs.IntVar(&c.lines, "lines", c.lines, "lines per order, each 1 unit of a different product")
	fs.IntVar(&c.seedConcurrency, "seed-concurrency", c.seedConcurrency, "concurrent requests while seeding and draining")
	return fs
}

// parseFlags reads args over the defaults and validates the result.
func parseFlags(args []string) (config, error) {
	c := defaultConfig()
	fs := flagSet(&c)
	if err := flags.ParseArgs(fs, args); err != nil {
		return config{}, err
	}
	target, err := graphqlURL(c.target)
	if err != nil {
		return config{}, err
	}
	c.target = target
	return c, c.validate()
}

func (c config) validate() error {
	switch {
	case c.clients < 1 || c.clients > maxClients:
		return fmt.Errorf("--clients must be between 1 and %d, got %d", maxClients, c.clients)
	case c.duration <= 0:
		return fmt.Errorf("--duration must be positive, got %s", c.duration)
	case c.customers < 1:
		return fmt.Errorf("--customers must be at least 1, got %d", c.customers)
	case c.products < 1:
		return fmt.Errorf("--products must be at least 1, got %d", c.products)
	case c.stock < 1 || c.stock > maxStock:
		return fmt.Errorf("--stock must be between 1 and %d, got %d", maxStock, c.stock)
	case c.lines < 1 || c.lines > maxLines:
		return fmt.Errorf("--lines must be between 1 and %d, got %d", maxLines, c.lines)
	case c.lines > c.products:
		// An order may name a product only once.
		return fmt.Errorf("--lines (%d) must not exceed --products (%d): each line is a different product", c.lines, c.products)
	case c.seedConcurrency < 1 || c.seedConcurrency > maxSeedConcurrency:
		return fmt.Errorf("--seed-concurrency must be between 1 and %d, got %d", maxSeedConcurrency, c.seedConcurrency)
	}
	return nil
}

// graphqlURL checks that raw is an http(s) URL and points a bare base URL
// (no path, or just "/") at /graphql.
func graphqlURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("--target: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--target %q: want an http:// or https:// URL such as http://localhost:8080/graphql", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/graphql"
	}
	return u.String(), nil
}
