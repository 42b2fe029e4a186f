package graph

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
)

func TestQueryCacheIsBoundedByBytes(t *testing.T) {
	ctx := context.Background()
	const budget = 1000
	c := newQueryCache(budget)
	query := func(i, size int) string {
		q := fmt.Sprintf("{ q%d }", i)
		return q + strings.Repeat(" ", size-len(q))
	}
	docs := map[string]*ast.QueryDocument{}
	add := func(q string) {
		docs[q] = &ast.QueryDocument{}
		c.Add(ctx, q, docs[q])
	}
	kept := func(q string) bool {
		got, ok := c.Get(ctx, q)
		if ok && got != docs[q] {
			t.Fatalf("Get(%.10q) returned another query's document", q)
		}
		return ok
	}

	// Ten distinct queries of 300 bytes: only the last three fit in 1000.
	for i := range 10 {
		add(query(i, 300))
		if n, b := c.size(); b > budget {
			t.Fatalf("after %d queries the cache holds %d bytes in %d entries, over its %d", i+1, b, n, budget)
		}
	}
	for i := range 7 {
		if kept(query(i, 300)) {
			t.Errorf("query %d is still kept: not the least recently used out", i)
		}
	}
	for i := 7; i < 10; i++ {
		if !kept(query(i, 300)) {
			t.Errorf("query %d, among the last added, is not kept", i)
		}
	}

	// A read makes a query recent: query 7 outlives 8 when room is needed.
	kept(query(7, 300))
	add(query(10, 300))
	if !kept(query(7, 300)) || kept(query(8, 300)) {
		t.Errorf("the least recently read query (8) should go first, not the one just read (7)")
	}

	// Adding a kept query again does not count it twice.
	before, beforeBytes := c.size()
	add(query(10, 300))
	if n, b := c.size(); n != before || b != beforeBytes {
		t.Errorf("adding a kept query again: %d entries %d bytes, want %d %d", n, b, before, beforeBytes)
	}

	// A query larger than the whole budget is never kept, and evicts nothing.
	add(query(99, budget+1))
	if kept(query(99, budget+1)) {
		t.Errorf("a query over the budget is kept")
	}
	if !kept(query(10, 300)) {
		t.Errorf("a query over the budget evicted others")
	}
}
