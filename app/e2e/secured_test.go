package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"orderflow/app/devbroker/devbrokertest"
)

// TestSplitOverTLSAndSASL is the split deployment against a secured cluster, the devbroker run
// with TLS and SASL SCRAM-SHA-512: two services started with --kafka-tls-ca and --kafka-sasl-*
// carry an order through validation and payment, orderflow verify reads the topics with the same
// settings; a service with a wrong password, or without TLS, stops at once with an error
// saying what to check and a non-zero exit.
func TestSplitOverTLSAndSASL(t *testing.T) {
	t.Parallel()
	bin := needBinary(t)
	dir := t.TempDir()
	certs := devbrokertest.NewCertificates(t, dir)
	password, wrong := filepath.Join(dir, "password"), filepath.Join(dir, "wrong-password")
	for file, pw := range map[string]string{password: "s3cret-of-the-test\n", wrong: "not-the-password\n"} {
		if err := os.WriteFile(file, []byte(pw), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr := freeLocalAddr(t)
	broker, _ := spawn(t, bin, []string{"devbroker", "--addr", addr, "--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey,
		"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "orderflow", "--sasl-password-file", password},
		regexp.MustCompile(`^orderflow devbroker: Kafka protocol on `+regexp.QuoteMeta(addr)+` \(in memory; TLS, SASL SCRAM-SHA-512 as orderflow\)`))
	secured := func(passwordFile string) []string {
		return []string{"--transport", "kafka", "--kafka-brokers", addr, "--kafka-tls-ca", certs.CA,
			"--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-sasl-user", "orderflow", "--kafka-sasl-password-file", passwordFile}
	}
	api := startBinary(t, bin, filepath.Join(dir, "api.db"), append(secured(password), "--contexts", apiContexts, "--wait-timeout", "20s")...)
	rest := startBinary(t, bin, filepath.Join(dir, "rest.db"), append(secured(password), "--contexts", "inventory,"+checkContexts)...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("---- devbroker ----\n%s\n---- api ----\n%s\n---- rest ----\n%s", broker.stderr.String(), api.stderr.String(), rest.stderr.String())
		}
	})
	c := api.client
	c.registerCustomer(t, "ada", "Ada Lovelace", "ada@example.com", "12 Analytical St")
	c.upsertProduct(t, "kettle", "Kettle", 2500)
	c.addStock(t, "kettle", 10)
	if o := c.placeValidated(t, "1001", "ada", []Line{{"kettle", 2}}); o.TotalCents != 5000 {
		t.Errorf("order 1001 totals %d, want 5000", o.TotalCents)
	}
	if o := c.payOrder(t, "1001", 5000); o.Status != "PAID" {
		t.Errorf("order 1001 is %s after payment, want PAID", o.Status)
	}

	// orderflow verify reads the topics with the same settings.
	res := runBinary(t, bin, 2*time.Minute, "verify", "--kafka-brokers", addr, "--kafka-tls-ca", certs.CA,
		"--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-sasl-user", "orderflow", "--kafka-sasl-password-file", password)
	if res.code != 0 {
		t.Errorf("orderflow verify over TLS and SASL exited with %d:\n%s%s", res.code, res.stdout, res.stderr)
	}

	// A wrong password, or no TLS: the service stops at once, saying what to check.
	for name, args := range map[string][]string{
		"a wrong password": secured(wrong),
		"no TLS": {"--transport", "kafka", "--kafka-brokers", addr,
			"--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-sasl-user", "orderflow", "--kafka-sasl-password-file", password},
	} {
		started := time.Now()
		res := runBinary(t, bin, time.Minute, append([]string{"--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "x.db"),
			"--contexts", "inventory"}, args...)...)
		if res.code == 0 || !strings.Contains(res.stderr, "check the TLS settings") || !strings.Contains(res.stderr, "SASL mechanism, user and password") {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant a non-zero exit and an error saying what to check", name, res.code, res.stderr)
		}
		t.Logf("%s: exit %d after %v: %s", name, res.code, time.Since(started).Round(time.Millisecond), lastLine(res.stderr))
	}
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
