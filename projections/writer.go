package projections

import (
	"context"
	"database/sql"
	"fmt"
)

// Tx is a write transaction as projections see it: statements are
// prepared once per transaction and reused for every event of the batch.
type Tx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func newTx(tx *sql.Tx) *Tx { return &Tx{tx: tx, stmts: map[string]*sql.Stmt{}} }

// Exec runs a statement, preparing it on first use in this transaction.
func (t *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// QueryRow runs a single-row query, preparing it on first use.
func (t *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := t.stmt(ctx, query)
	if err != nil {
		// Let Scan report the error: run the query unprepared.
		return t.tx.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (t *Tx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := t.stmts[query]; ok {
		return st, nil
	}
	st, err := t.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	t.stmts[query] = st
	return st, nil
}

func (t *Tx) close() {
	for _, st := range t.stmts {
		st.Close()
	}
}

// withTx runs fn over a projection transaction wrapping tx.
func withTx(tx *sql.Tx, fn func(*Tx) error) error {
	t := newTx(tx)
	defer t.close()
	return fn(t)
}
