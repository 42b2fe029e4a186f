package graph

import (
	"container/list"
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// queryCache keeps parsed and validated query documents, least recently
// used first out, within a budget of bytes of query text.
//
// gqlgen's own lru cache bounds the number of entries, and what one entry
// holds grows with the query: a parsed and validated document takes about
// 20 to 25 times the bytes of its text (measured on 1 MiB queries of
// aliased fields), so a thousand entries of megabyte queries pin gigabytes.
// Here the budget is in bytes of query text, so the memory the cache holds
// is bounded whatever the queries. Capping the query size instead would
// leave entries × size × 25, either a tiny cache or a large bound.
type queryCache struct {
	maxBytes int64

	mu    sync.Mutex
	bytes int64
	order *list.List // of *cacheEntry, most recently used at the front
	byKey map[string]*list.Element
}

type cacheEntry struct {
	query string
	doc   *ast.QueryDocument
}

var _ graphql.Cache[*ast.QueryDocument] = (*queryCache)(nil)

// newQueryCache returns a cache holding at most maxBytes of query text; a
// query longer than that on its own is never kept.
func newQueryCache(maxBytes int64) *queryCache {
	return &queryCache{maxBytes: maxBytes, order: list.New(), byKey: map[string]*list.Element{}}
}

// Get returns the document parsed from query, if it is kept.
func (c *queryCache) Get(_ context.Context, query string) (*ast.QueryDocument, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[query]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).doc, true
}

// Add keeps doc under query, dropping the least recently used documents
// until the budget holds.
func (c *queryCache) Add(_ context.Context, query string, doc *ast.QueryDocument) {
	size := int64(len(query))
	if size > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[query]; ok {
		el.Value.(*cacheEntry).doc = doc
		c.order.MoveToFront(el)
		return
	}
	for c.bytes+size > c.maxBytes {
		oldest := c.order.Back()
		e := c.order.Remove(oldest).(*cacheEntry)
		delete(c.byKey, e.query)
		c.bytes -= int64(len(e.query))
	}
	c.byKey[query] = c.order.PushFront(&cacheEntry{query: query, doc: doc})
	c.bytes += size
}

// size reports how many documents and bytes of query text are kept.
func (c *queryCache) size() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len(), c.bytes
}
