package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ohfp/ohfp/internal/store"
)

// machineColumns are the stored columns of a machine, in the order
// machineArgs binds and Machines scans them.
var machineColumns = []string{
	"instance_id", "request_id", "return_id", "template_id", "name",
	"private_ip", "public_ip", "state", "result", "message",
	"instance_type", "price_type", "launch_time", "updated_at",
	"cores", "threads", "public_dns", "listed_at",
}

// machineChunk is how many machines one INSERT writes: one statement per
// row would spend most of the time binding and stepping, and 64 rows of
// parameters stay under SQLite's smallest limit on them (999).
const machineChunk = 64

var selectMachines = "SELECT " + strings.Join(machineColumns, ", ") + " FROM machines"

// upsertMachines is the statement that upserts rows machines.
func upsertMachines(rows int) string {
	row := "(?" + strings.Repeat(", ?", len(machineColumns)-1) + ")"
	return "INSERT INTO machines (" + strings.Join(machineColumns, ", ") + ") VALUES " +
		row + strings.Repeat(", "+row, rows-1) +
		" ON CONFLICT (instance_id) DO UPDATE SET " + assignments(machineColumns[1:], "excluded.")
}

// machineArgs appends m's values in the order of machineColumns.
func machineArgs(args []any, m *store.Machine) []any {
	var returnID any // NULL: no return request to refer to
	if m.ReturnID != "" {
		returnID = m.ReturnID
	}
	return append(args, m.InstanceID, m.RequestID, returnID, m.TemplateID, m.Name,
		m.PrivateIP, m.PublicIP, m.State, m.Result, m.Message,
		m.InstanceType, m.PriceType, nanos(m.LaunchTime), nanos(m.UpdatedAt),
		m.Cores, m.Threads, m.PublicDNS, nanos(m.ListedAt))
}

// inList matches a value against a JSON array bound as one parameter: one
// statement for any number of ids, with no chunking around SQLite's limit
// on bound parameters and with SQL's ORDER BY over the whole result.
const inList = "(SELECT value FROM json_each(?))"

// jsonList encodes values for inList.
func jsonList[T ~string](values []T) string {
	b, _ := json.Marshal(values) // strings always encode
	return string(b)
}

// whereClause ANDs conditions; none gives "".
func whereClause(conditions []string) string {
	if len(conditions) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conditions, " AND ")
}

// SaveMachines upserts machines in one transaction. A machine whose request
// or return request is not stored gives store.ErrNotFound and nothing is
// written.
func (s *Store) SaveMachines(ctx context.Context, machines []store.Machine) error {
	if len(machines) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error { return saveMachines(ctx, tx, machines) })
	if err != nil {
		return fmt.Errorf("save machines: %w", err)
	}
	return nil
}

// saveMachines upserts machines in tx, a chunk per statement, full chunks
// through one prepared statement.
func saveMachines(ctx context.Context, tx *sql.Tx, machines []store.Machine) error {
	var full *sql.Stmt
	if len(machines) >= machineChunk {
		var err error
		if full, err = tx.PrepareContext(ctx, upsertMachines(machineChunk)); err != nil {
			return err
		}
		defer full.Close()
	}
	args := make([]any, 0, machineChunk*len(machineColumns))
	for start := 0; start < len(machines); start += machineChunk {
		chunk := machines[start:min(start+machineChunk, len(machines))]
		args = args[:0]
		for i := range chunk {
			args = machineArgs(args, &chunk[i])
		}
		var err error
		if len(chunk) == machineChunk {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, upsertMachines(len(chunk)), args...)
		}
		if sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
			return fmt.Errorf("machines %s to %s: one's request or return request: %w",
				chunk[0].InstanceID, chunk[len(chunk)-1].InstanceID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("machines %s to %s: %w", chunk[0].InstanceID, chunk[len(chunk)-1].InstanceID, err)
		}
	}
	return nil
}

// Machines returns the machines matching q, ordered by request then launch.
func (s *Store) Machines(ctx context.Context, q store.MachineQuery) ([]store.Machine, error) {
	var where []string
	var args []any
	for _, f := range []struct {
		column string
		values []string
	}{
		{"request_id", q.RequestIDs},
		{"return_id", q.ReturnIDs},
		{"instance_id", q.InstanceIDs},
		{"name", q.Names},
	} {
		if len(f.values) == 0 {
			continue
		}
		where = append(where, f.column+" IN "+inList)
		args = append(args, jsonList(f.values))
	}
	if q.TemplateID != "" {
		where = append(where, "template_id = ?")
		args = append(args, q.TemplateID)
	}
	if q.AliveOnly {
		where = append(where, "alive")
	}
	if len(where) == 0 {
		return nil, nil
	}
	query := selectMachines + whereClause(where) + " ORDER BY request_id, launch_time, instance_id"
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("machines: %w", err)
	}
	defer rows.Close()
	var out []store.Machine
	for rows.Next() {
		var (
			m                store.Machine
			returnID         sql.NullString
			launched, update int64
			listed           int64
		)
		err := rows.Scan(&m.InstanceID, &m.RequestID, &returnID, &m.TemplateID, &m.Name,
			&m.PrivateIP, &m.PublicIP, &m.State, &m.Result, &m.Message,
			&m.InstanceType, &m.PriceType, &launched, &update,
			&m.Cores, &m.Threads, &m.PublicDNS, &listed)
		if err != nil {
			return nil, fmt.Errorf("machines: %w", err)
		}
		m.ReturnID = returnID.String
		m.LaunchTime, m.UpdatedAt, m.ListedAt = fromNanos(launched), fromNanos(update), fromNanos(listed)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("machines: %w", err)
	}
	return out, nil
}

// MarkListed sets listed_at where it is unset, in one statement.
func (s *Store) MarkListed(ctx context.Context, instanceIDs []string, at time.Time) error {
	if len(instanceIDs) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE machines SET listed_at = ? WHERE listed_at = 0 AND instance_id IN "+inList,
			nanos(at), jsonList(instanceIDs))
		return err
	})
	if err != nil {
		return fmt.Errorf("mark listed: %w", err)
	}
	return nil
}
