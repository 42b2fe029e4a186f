package cdc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"orderflow/commands"
)

// relation is a table as the stream described it, with where each mapped
// column is in its tuples; nil columns mean the table is not one we follow.
type relation struct {
	table   Table
	product bool
	columns []int
}

// stream follows the slot from start. Each transaction's changes are
// applied in order as they arrive; the position confirmed to the source
// moves to a transaction's end only after all its changes are in the
// store, so whatever was not confirmed is sent again after a reconnection
// and skipped where it had been applied.
func (r *runner) stream(ctx context.Context, conn *pgconn.PgConn, system string, start pglogrepl.LSN) error {
	err := pglogrepl.StartReplication(ctx, conn, r.cfg.Slot, start, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", fmt.Sprintf("publication_names '%s'", r.cfg.Publication)},
	})
	if err != nil {
		return classify(err, "start replication from slot "+r.cfg.Slot)
	}
	r.stats.Streaming.Store(true)
	r.log.Info("cdc: streaming", "slot", r.cfg.Slot, "from", start.String())

	relations := map[uint32]*relation{}
	applied := start // everything up to here is in the store
	var inTx bool
	var change commands.SourceChange
	nextStatus := time.Now().Add(r.cfg.StatusInterval)
	for {
		if time.Now().After(nextStatus) {
			if err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: applied}); err != nil {
				return fmt.Errorf("confirm position: %w", err)
			}
			nextStatus = time.Now().Add(r.cfg.StatusInterval)
		}
		rctx, cancel := context.WithDeadline(ctx, nextStatus)
		raw, err := conn.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if pgconn.Timeout(err) && ctx.Err() == nil {
				continue
			}
			return fmt.Errorf("receive: %w", err)
		}
		if e, ok := raw.(*pgproto3.ErrorResponse); ok {
			return classify(pgconn.ErrorResponseToPgError(e), "stream")
		}
		msg, ok := raw.(*pgproto3.CopyData)
		if !ok || len(msg.Data) == 0 {
			continue
		}
		switch msg.Data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			k, err := pglogrepl.ParsePrimaryKeepaliveMessage(msg.Data[1:])
			if err != nil {
				return fmt.Errorf("keepalive: %w", err)
			}
			r.stats.ServerLSN.Store(uint64(k.ServerWALEnd))
			// Between transactions everything sent is applied, so the
			// position may follow the server's even when nothing of ours
			// changed (else the slot would hold back the server's WAL).
			if !inTx && k.ServerWALEnd > applied {
				applied = k.ServerWALEnd
				r.stats.AppliedLSN.Store(uint64(applied))
			}
			if k.ReplyRequested {
				nextStatus = time.Time{}
			}
		case pglogrepl.XLogDataByteID:
			x, err := pglogrepl.ParseXLogData(msg.Data[1:])
			if err != nil {
				return fmt.Errorf("xlog data: %w", err)
			}
			r.stats.ServerLSN.Store(uint64(x.ServerWALEnd))
			m, err := pglogrepl.Parse(x.WALData)
			if err != nil {
				return fmt.Errorf("decode change: %w", err)
			}
			switch m := m.(type) {
			case *pglogrepl.RelationMessage:
				relations[m.RelationID] = r.relation(m)
			case *pglogrepl.BeginMessage:
				inTx = true
				change = commands.SourceChange{Source: system, LSN: uint64(m.FinalLSN)}
			case *pglogrepl.CommitMessage:
				inTx = false
				applied = m.TransactionEndLSN
				r.stats.AppliedLSN.Store(uint64(applied))
			case *pglogrepl.InsertMessage:
				change.Seq++
				if err := r.applyTuple(ctx, change, relations[m.RelationID], m.Tuple, nil, false); err != nil {
					return err
				}
			case *pglogrepl.UpdateMessage:
				change.Seq++
				if err := r.applyTuple(ctx, change, relations[m.RelationID], m.NewTuple, m.OldTuple, false); err != nil {
					return err
				}
			case *pglogrepl.DeleteMessage:
				change.Seq++
				if err := r.applyTuple(ctx, change, relations[m.RelationID], m.OldTuple, nil, true); err != nil {
					return err
				}
			case *pglogrepl.TruncateMessage:
				r.truncated(m, relations)
			}
		}
	}
}

// relation maps a table the stream describes onto the mapping.
func (r *runner) relation(m *pglogrepl.RelationMessage) *relation {
	for i, t := range []Table{r.cfg.Products, r.cfg.Customers} {
		if m.Namespace != t.Schema || m.RelationName != t.Name {
			continue
		}
		rel := &relation{table: t, product: i == 0, columns: make([]int, len(t.Columns))}
		for j, name := range t.Columns {
			rel.columns[j] = -1
			for k, c := range m.Columns {
				if c.Name == name {
					rel.columns[j] = k
				}
			}
		}
		return rel
	}
	return nil
}

var errNoColumn = errors.New("column missing from the change")

// applyTuple applies one inserted, updated or deleted row. A deleted row
// carries its key only, which is all a withdrawal needs.
func (r *runner) applyTuple(ctx context.Context, ch commands.SourceChange, rel *relation,
	tuple, old *pglogrepl.TupleData, deleted bool) error {
	if rel == nil || tuple == nil {
		return nil
	}
	row := make([]string, len(rel.columns))
	for i, k := range rel.columns {
		if deleted && i > 0 {
			break
		}
		if k < 0 || k >= len(tuple.Columns) {
			return permanent("%s: %w: %s", rel.table.String(), errNoColumn, rel.table.Columns[i])
		}
		c := tuple.Columns[k]
		if c.DataType == pglogrepl.TupleDataTypeToast && old != nil && k < len(old.Columns) {
			c = old.Columns[k] // unchanged and not sent: the old row has it under REPLICA IDENTITY FULL
		}
		switch c.DataType {
		case pglogrepl.TupleDataTypeText:
			row[i] = string(c.Data)
		case pglogrepl.TupleDataTypeToast:
			r.stats.ChangesRejected.Add(1)
			r.log.Warn("cdc: a large value did not change and was not sent; set REPLICA IDENTITY FULL on the table",
				"table", rel.table.String(), "column", rel.table.Columns[i])
			return nil
		}
	}
	if deleted {
		if !rel.product {
			// The customer context has no end of a customer: a deleted
			// customer stays registered.
			r.stats.ChangesIgnored.Add(1)
			r.log.Warn("cdc: change ignored: a deleted customer stays registered (the customer context has no end of a customer)",
				"table", rel.table.Schema+"."+rel.table.Name, "id", row[0])
			return nil
		}
		return r.record(rel.table, row, func() (outcome, error) { return applyOutcome(r.h.WithdrawProduct(ctx, ch, row[0])) })
	}
	if rel.product {
		return r.record(rel.table, row, func() (outcome, error) { return r.applyProduct(ctx, ch, row) })
	}
	return r.record(rel.table, row, func() (outcome, error) { return r.applyCustomer(ctx, ch, row) })
}

// truncated logs and counts a TRUNCATE of followed tables, which is not
// carried over: PostgreSQL sends no rows with it, so cdc cannot tell which
// products to withdraw, and the customer context has no end of a customer.
// Products stay in the catalog until their rows are deleted one by one (or
// the same ids are inserted again, which updates them).
func (r *runner) truncated(m *pglogrepl.TruncateMessage, relations map[uint32]*relation) {
	for _, id := range m.RelationIDs {
		rel := relations[id]
		if rel == nil {
			continue
		}
		r.stats.ChangesIgnored.Add(1)
		what := "its customers stay registered"
		if rel.product {
			what = "its products stay in the catalog and on sale; DELETE their rows to withdraw them"
		}
		r.log.Warn("cdc: change ignored: TRUNCATE is not carried over; "+what, "table", rel.table.Schema+"."+rel.table.Name)
	}
}

func lsnString(v uint64) string { return pglogrepl.LSN(v).String() }
