package projections

import (
	"context"
	"database/sql"

	"orderflow/domain/catalog"
	"orderflow/domain/customer"
	"orderflow/domain/stock"
	"orderflow/events"
)

// productsProjection keeps the products table; it is also the orders
// context's catalog copy that placeOrder prices from.
type productsProjection struct{}

func (productsProjection) Name() string { return "products" }

func (productsProjection) Apply(ctx context.Context, tx *sql.Tx, e events.Event, p events.Payload) error {
	var err error
	at := e.OccurredAt.UnixNano()
	switch p := p.(type) {
	case catalog.ProductDefined:
		_, err = tx.ExecContext(ctx, `INSERT INTO products (id, name, price_cents, version, updated_at) VALUES (?, ?, ?, ?, ?)`,
			p.ProductID, p.Name, p.PriceCents, e.StreamVersion, at)
	case catalog.ProductRenamed:
		_, err = tx.ExecContext(ctx, `UPDATE products SET name = ?, version = ?, updated_at = ? WHERE id = ?`,
			p.Name, e.StreamVersion, at, p.ProductID)
	case catalog.ProductRepriced:
		_, err = tx.ExecContext(ctx, `UPDATE products SET price_cents = ?, version = ?, updated_at = ? WHERE id = ?`,
			p.PriceCents, e.StreamVersion, at, p.ProductID)
	}
	return err
}

// stockProjection keeps on-hand and reserved quantities per product.
type stockProjection struct{}

func (stockProjection) Name() string { return "stock" }

func (stockProjection) Apply(ctx context.Context, tx *sql.Tx, e events.Event, p events.Payload) error {
	var productID string
	var onHand, reserved int
	switch p := p.(type) {
	case stock.StockAdded:
		productID, onHand = p.ProductID, p.Quantity
	case stock.StockReserved:
		productID, reserved = p.ProductID, p.Quantity
	case stock.StockReleased:
		productID, reserved = p.ProductID, -p.Quantity
	case stock.StockCommitted:
		productID, onHand, reserved = p.ProductID, -p.Quantity, -p.Quantity
	case stock.StockReservationRejected:
		productID = p.ProductID
	default:
		return nil
	}
	// Update first: the row's CHECK (0 ≤ reserved ≤ on_hand) would refuse
	// an insert of the delta alone before an upsert could merge it.
	res, err := tx.ExecContext(ctx, `UPDATE stock SET on_hand = on_hand + ?, reserved = reserved + ?, version = ?
		WHERE product_id = ?`, onHand, reserved, e.StreamVersion, productID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO stock (product_id, on_hand, reserved, version) VALUES (?, ?, ?, ?)`,
		productID, onHand, reserved, e.StreamVersion)
	return err
}

// customersProjection keeps the customers table.
type customersProjection struct{}

func (customersProjection) Name() string { return "customers" }

func (customersProjection) Apply(ctx context.Context, tx *sql.Tx, e events.Event, p events.Payload) error {
	var err error
	at := e.OccurredAt.UnixNano()
	switch p := p.(type) {
	case customer.CustomerRegistered:
		_, err = tx.ExecContext(ctx, `INSERT INTO customers (id, name, email, address, version, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
			p.CustomerID, p.Name, p.Email, p.Address, e.StreamVersion, at)
	case customer.CustomerAddressChanged:
		_, err = tx.ExecContext(ctx, `UPDATE customers SET address = ?, version = ?, updated_at = ? WHERE id = ?`,
			p.Address, e.StreamVersion, at, p.CustomerID)
	}
	return err
}
