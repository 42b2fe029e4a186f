package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"orderflow/app/devbroker/devbrokertest"
	"orderflow/commands/kafkabus"
	"orderflow/graph/access"
)

// TestSplitProcessNewMemberFindsASignedSource: with access control on, a process says where it
// serves on the members topic signed with the deployment's secret, and a new API replica started
// with no --seed-from finds it there, fetches a copy of its database as an admin and shows its
// data once ready. A word written on the topic by someone without the secret (an address that
// would receive the new member's admin token and hand it a database of its own) is passed by:
// nothing ever asks that address.
func TestSplitProcessNewMemberFindsASignedSource(t *testing.T) {
	t.Parallel()
	s := newSplitDeployment(t)
	api := s.service("api", apiContexts, "--auth-secret", testSecret)
	admin := api.client.as(token(t, access.RoleAdmin, "root", time.Hour))
	admin.upsertProduct(t, "lamp", "Lamp", 1000)
	eventually(t, 20*time.Second, func() (bool, string) {
		log := api.stderr.String()
		return strings.Contains(log, "said where this process serves"), "api did not say where it serves:\n" + log
	})

	var asked atomic.Int32
	forged := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.Error(w, "not a member", http.StatusServiceUnavailable)
	}))
	defer forged.Close()
	word, err := json.Marshal(kafkabus.Announcement{URL: forged.URL, Contexts: strings.Split(apiContexts, ","), At: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	cl := devbrokertest.NewClient(t, s.broker.addr)
	if err := cl.ProduceSync(devbrokertest.Context(t), &kgo.Record{Topic: kafkabus.MembersTopic, Key: []byte(forged.URL), Value: word}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	replica := s.service("api-2", "api", "--auth-secret", testSecret)
	log := replica.stderr.String()
	if !strings.Contains(log, `seeded the database from a running process" from=`+api.client.base) {
		t.Errorf("api-2 was not seeded from api (%s):\n%s", api.client.base, log)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the address of an unsigned word was asked %d times", n)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		code, body := replica.client.get(t, "/readyz")
		return code == http.StatusOK, "api-2 /readyz: " + body
	})
	if p := replica.client.as(token(t, access.RoleAdmin, "root", time.Hour)).product(t, "lamp"); p == nil || p.Name != "Lamp" {
		t.Errorf("api-2 ready shows product lamp as %+v", p)
	}
	s.checkNoErrorsLogged()
}

// TestSplitProcessNewMemberPassesByAFrozenOne: the member a new one would start from first (it
// runs the same contexts) is frozen (SIGSTOP: a GC pause, a frozen VM) while its word on the
// members topic is still fresh. The new member gives up on it within seconds, starts from a copy
// of the next one's database, and is ready; the frozen one resumes (SIGCONT) as if nothing
// happened.
func TestSplitProcessNewMemberPassesByAFrozenOne(t *testing.T) {
	t.Parallel()
	s := newSplitDeployment(t)
	api := s.service("api", apiContexts)
	api.client.upsertProduct(t, "lamp", "Lamp", 1000)
	replica := s.service("api-2", "api")
	eventually(t, 20*time.Second, func() (bool, string) {
		log := replica.stderr.String()
		return strings.Contains(log, "said where this process serves"), "api-2 did not say where it serves:\n" + log
	})
	replica.signal(t, syscall.SIGSTOP)
	t.Log("api-2 frozen (SIGSTOP)")
	start := time.Now()
	third := s.service("api-3", "api")
	took := time.Since(start)
	replica.signal(t, syscall.SIGCONT)
	log := third.stderr.String()
	if !strings.Contains(log, "could not start from a copy of this member's database; trying the next\" from="+replica.client.base) ||
		!strings.Contains(log, `seeded the database from a running process" from=`+api.client.base) {
		t.Errorf("api-3 did not pass api-2 (%s) by for api (%s):\n%s", replica.client.base, api.client.base, log)
	}
	if took > 10*time.Second {
		t.Errorf("api-3 took %s to start", took)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		code, body := third.client.get(t, "/readyz")
		return code == http.StatusOK, "api-3 /readyz: " + body
	})
	if p := third.client.product(t, "lamp"); p == nil || p.Name != "Lamp" {
		t.Errorf("api-3 ready shows product lamp as %+v", p)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		code, body := replica.client.get(t, "/readyz")
		return code == http.StatusOK, "api-2 after SIGCONT /readyz: " + body
	})
	s.checkNoErrorsLogged()
}
