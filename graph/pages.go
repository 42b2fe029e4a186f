package graph

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"orderflow/graph/model"
)

// defaultPage is the page size of a connection (orders, products,
// customers) asked without first; the schema says the same.
const defaultPage = 20

// cursorKind names what a connection lists. A cursor is opaque to clients:
// base64 of "<kind>:<key>", the key being where the page ends in the read
// model's order (an order's placement position, a product's or a
// customer's id). The kind keeps a cursor of one list from paging another.
type cursorKind string

const (
	orderCursors    cursorKind = "order"
	productCursors  cursorKind = "product"
	customerCursors cursorKind = "customer"
)

// errNotACursor refuses an after that this API did not hand out.
var errNotACursor = badInput("after: not a cursor returned by this API")

func (k cursorKind) encode(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(string(k) + ":" + key))
}

// decode returns the key of a cursor of kind k, or errNotACursor.
func (k cursorKind) decode(c string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		if key, ok := strings.CutPrefix(string(raw), string(k)+":"); ok && key != "" {
			return key, nil
		}
	}
	return "", errNotACursor
}

func encodeOrderCursor(seq int64) string { return orderCursors.encode(strconv.FormatInt(seq, 10)) }

// decodeOrderCursor returns the placement position of an order cursor.
func decodeOrderCursor(c string) (int64, error) {
	key, err := orderCursors.decode(c)
	if err != nil {
		return 0, err
	}
	seq, err := strconv.ParseInt(key, 10, 64)
	if err != nil || seq < 0 {
		return 0, errNotACursor
	}
	return seq, nil
}

// pageArgs checks the arguments of a connection: first (defaultPage when
// absent) must be 0..maxPage, and after, when given, a cursor decode
// accepts. afterKey is the zero key, the start of the list, without after.
func pageArgs[K any](first *int, after *string, decode func(string) (K, error)) (limit int, afterKey K, err error) {
	limit = defaultPage
	if first != nil {
		limit = *first
	}
	if limit < 0 || limit > maxPage {
		return 0, afterKey, badInput(fmt.Sprintf("first must be between 0 and %d", maxPage))
	}
	if after != nil {
		if afterKey, err = decode(*after); err != nil {
			return 0, afterKey, err
		}
	}
	return limit, afterKey, nil
}

// edgesOf makes the edges of a page of rows, edge giving each row's edge
// and cursor, and the page's PageInfo: endCursor is the last edge's cursor,
// null for an empty page.
func edgesOf[R, E any](page []R, hasNext bool, edge func(*R) (E, string)) ([]E, *model.PageInfo) {
	edges := make([]E, len(page))
	info := &model.PageInfo{HasNextPage: hasNext}
	for i := range page {
		var cursor string
		edges[i], cursor = edge(&page[i])
		info.EndCursor = &cursor
	}
	return edges, info
}

// pageByID answers a connection of a read model listed in id order
// (products, customers): it checks first and after, reads the page with
// read and makes each row's edge, whose cursor's key is the row's id.
func pageByID[R, E any](ctx context.Context, kind cursorKind, first *int, after *string,
	read func(ctx context.Context, first int, afterID string) ([]R, bool, error),
	id func(*R) string, edge func(cursor string, row *R) E,
) ([]E, *model.PageInfo, error) {
	limit, afterID, err := pageArgs(first, after, kind.decode)
	if err != nil {
		return nil, nil, err
	}
	page, hasNext, err := read(ctx, limit, afterID)
	if err != nil {
		return nil, nil, err
	}
	edges, info := edgesOf(page, hasNext, func(row *R) (E, string) {
		cursor := kind.encode(id(row))
		return edge(cursor, row), cursor
	})
	return edges, info, nil
}
