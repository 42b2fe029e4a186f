package commands

// lru is a map of bounded size that forgets its least recently used keys:
// the in-memory state of the reactions' lanes and the snapshots of the
// command side. Everything in it is a copy of what the log holds, so a key
// it forgot is simply read from the log again when next needed.
//
// put never evicts: a lane holds pointers to the entries of the batch it is
// deciding, and an entry evicted and reloaded in mid-batch would miss the
// events the batch staged. The owner calls trim when nothing is held, at
// the end of a batch. An lru is not safe for concurrent use.
type lru[V any] struct {
	limit int
	m     map[string]*lruEntry[V]
	// root links the entries in a ring: root.next is the most recently
	// used, root.prev the least.
	root lruEntry[V]
}

type lruEntry[V any] struct {
	key        string
	val        V
	prev, next *lruEntry[V]
}

func newLRU[V any](limit int) *lru[V] {
	c := &lru[V]{limit: max(limit, 1), m: map[string]*lruEntry[V]{}}
	c.root.prev, c.root.next = &c.root, &c.root
	return c
}

// get returns the value of key and marks it used.
func (c *lru[V]) get(key string) (V, bool) {
	e, ok := c.m[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.unlink(e)
	c.pushFront(e)
	return e.val, true
}

// put sets the value of key and marks it used.
func (c *lru[V]) put(key string, val V) {
	if e, ok := c.m[key]; ok {
		e.val = val
		c.unlink(e)
		c.pushFront(e)
		return
	}
	e := &lruEntry[V]{key: key, val: val}
	c.m[key] = e
	c.pushFront(e)
}

// remove forgets key.
func (c *lru[V]) remove(key string) {
	if e, ok := c.m[key]; ok {
		c.unlink(e)
		delete(c.m, key)
	}
}

// trim forgets the least recently used keys beyond the limit and says how
// many it forgot.
func (c *lru[V]) trim() int {
	n := 0
	for len(c.m) > c.limit {
		e := c.root.prev
		c.unlink(e)
		delete(c.m, e.key)
		n++
	}
	return n
}

func (c *lru[V]) len() int { return len(c.m) }

func (c *lru[V]) unlink(e *lruEntry[V]) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (c *lru[V]) pushFront(e *lruEntry[V]) {
	e.prev, e.next = &c.root, c.root.next
	c.root.next.prev = e
	c.root.next = e
}
