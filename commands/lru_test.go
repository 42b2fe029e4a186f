package commands

import (
	"fmt"
	"testing"
)

func TestLRUForgetsTheLeastRecentlyUsed(t *testing.T) {
	c := newLRU[int](3)
	for i, k := range []string{"a", "b", "c", "d"} {
		c.put(k, i)
	}
	if c.len() != 4 {
		t.Fatalf("len before trim = %d, want 4: put never evicts", c.len())
	}
	if _, ok := c.get("a"); !ok { // a is now the most recent; b the least
		t.Fatal("a missing before trim")
	}
	if n := c.trim(); n != 1 {
		t.Fatalf("trim forgot %d, want 1", n)
	}
	if _, ok := c.get("b"); ok {
		t.Error("b kept, want it forgotten as the least recently used")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := c.get(k); !ok {
			t.Errorf("%s forgotten, want kept", k)
		}
	}
	c.put("c", 30)
	if v, _ := c.get("c"); v != 30 {
		t.Errorf("c = %d after put, want 30", v)
	}
	c.remove("c")
	if _, ok := c.get("c"); ok || c.len() != 2 {
		t.Errorf("after remove: c present %v, len %d; want absent and 2", ok, c.len())
	}
}

func TestLRUStaysBounded(t *testing.T) {
	const limit = 100
	c := newLRU[int](limit)
	for i := range 10 * limit {
		c.put(fmt.Sprint(i), i)
		c.trim()
		if c.len() > limit {
			t.Fatalf("len %d after %d puts, want at most %d", c.len(), i+1, limit)
		}
	}
	// The newest limit keys are the ones kept.
	for i := 9 * limit; i < 10*limit; i++ {
		if v, ok := c.get(fmt.Sprint(i)); !ok || v != i {
			t.Fatalf("key %d: %d, %v; want kept", i, v, ok)
		}
	}
}
