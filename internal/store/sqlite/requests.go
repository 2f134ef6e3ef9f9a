package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ohfp/ohfp/internal/store"
)

// requestColumns are the stored columns of a request, in scanRequest's order.
var requestColumns = []string{
	"id", "kind", "template_id", "template", "machine_count", "outstanding",
	"rc_account", "user_data", "client_token", "cloud_ref", "machines",
	"state", "message", "created_at", "updated_at", "version",
}

var (
	selectRequests = "SELECT " + strings.Join(requestColumns, ", ") + " FROM requests"
	insertRequest  = "INSERT INTO requests (" + strings.Join(requestColumns, ", ") +
		") VALUES (:" + strings.Join(requestColumns, ", :") + ")"
	// An update keeps the id and the creation time.
	updateRequest = "UPDATE requests SET " +
		assignments(slices.DeleteFunc(slices.Clone(requestColumns), func(c string) bool {
			return c == "id" || c == "created_at"
		}), ":") +
		" WHERE id = :id AND version = :old_version"
)

// usageQuery is the slots held per template: alive machines plus the
// Outstanding of unfinished create requests; %[1]s narrows both sides.
const usageQuery = `
SELECT template_id, sum(n) FROM (
	SELECT template_id, count(*) AS n FROM machines WHERE alive %[1]s GROUP BY template_id
	UNION ALL
	SELECT template_id, sum(outstanding) FROM requests
	WHERE kind = 'create' AND NOT finished %[1]s GROUP BY template_id
) GROUP BY template_id`

var (
	allUsage      = fmt.Sprintf(usageQuery, "")
	templateUsage = fmt.Sprintf(usageQuery, "AND template_id = :template_id")
)

// assignments is "c1 = <prefix>c1, c2 = <prefix>c2, ...".
func assignments(columns []string, prefix string) string {
	parts := make([]string, len(columns))
	for i, c := range columns {
		parts[i] = c + " = " + prefix + c
	}
	return strings.Join(parts, ", ")
}

// requestArgs binds r to the named parameters of requestColumns.
func requestArgs(r *store.Request) ([]any, error) {
	var refs any
	if len(r.Machines) > 0 {
		b, err := json.Marshal(r.Machines)
		if err != nil {
			return nil, fmt.Errorf("request %s: encode machines: %w", r.ID, err)
		}
		refs = string(b)
	}
	return []any{
		sql.Named("id", r.ID),
		sql.Named("kind", string(r.Kind)),
		sql.Named("template_id", r.TemplateID),
		sql.Named("template", blob(r.Template)),
		sql.Named("machine_count", r.MachineCount),
		sql.Named("outstanding", r.Outstanding),
		sql.Named("rc_account", r.RCAccount),
		sql.Named("user_data", blob(r.UserData)),
		sql.Named("client_token", r.ClientToken),
		sql.Named("cloud_ref", r.CloudRef),
		sql.Named("machines", refs),
		sql.Named("state", string(r.State)),
		sql.Named("message", r.Message),
		sql.Named("created_at", nanos(r.CreatedAt)),
		sql.Named("updated_at", nanos(r.UpdatedAt)),
		sql.Named("version", r.Version),
	}, nil
}

// scanRequests reads rows of requestColumns.
func scanRequests(rows *sql.Rows) ([]store.Request, error) {
	defer rows.Close()
	var out []store.Request
	for rows.Next() {
		var (
			r                store.Request
			refs             sql.NullString
			created, updated int64
			kind, state      string
		)
		err := rows.Scan(&r.ID, &kind, &r.TemplateID, &r.Template, &r.MachineCount, &r.Outstanding,
			&r.RCAccount, &r.UserData, &r.ClientToken, &r.CloudRef, &refs,
			&state, &r.Message, &created, &updated, &r.Version)
		if err != nil {
			return nil, err
		}
		if refs.Valid {
			if err := json.Unmarshal([]byte(refs.String), &r.Machines); err != nil {
				return nil, fmt.Errorf("request %s: decode machines: %w", r.ID, err)
			}
		}
		r.Kind, r.State = store.Kind(kind), store.State(state)
		r.CreatedAt, r.UpdatedAt = fromNanos(created), fromNanos(updated)
		out = append(out, r)
	}
	return out, rows.Err()
}

// CreateRequest stores r if its id is new and, for a create request with
// limit >= 0, its template keeps within limit; see store.Store.
func (s *Store) CreateRequest(ctx context.Context, r *store.Request, limit int) error {
	next := *r
	next.CreatedAt = time.Now().UTC()
	next.UpdatedAt = next.CreatedAt
	next.Version = 1
	args, err := requestArgs(&next)
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		exists, err := requestExists(ctx, tx, r.ID)
		if err != nil {
			return err
		}
		if exists {
			return store.ErrExists
		}
		if r.Kind == store.KindCreate && limit >= 0 {
			if err := checkCapacity(ctx, tx, r, limit); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, insertRequest, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("create request %s: %w", r.ID, err)
	}
	*r = next
	return nil
}

// checkCapacity refuses r unless its template's usage plus r.Outstanding
// stays within limit.
func checkCapacity(ctx context.Context, tx *sql.Tx, r *store.Request, limit int) error {
	var template string
	var used int
	err := tx.QueryRowContext(ctx, templateUsage, sql.Named("template_id", r.TemplateID)).Scan(&template, &used)
	if err != nil && !errors.Is(err, sql.ErrNoRows) { // no rows: nothing held
		return err
	}
	if used+r.Outstanding > limit {
		return fmt.Errorf("%w: template %s holds %d of %d, the request needs %d",
			store.ErrCapacity, r.TemplateID, used, limit, r.Outstanding)
	}
	return nil
}

// UpdateRequest writes r and upserts machines if r.Version is still the
// stored version; see store.Store.
func (s *Store) UpdateRequest(ctx context.Context, r *store.Request, machines ...store.Machine) error {
	next := *r
	next.Version++
	next.UpdatedAt = time.Now().UTC()
	args, err := requestArgs(&next)
	if err != nil {
		return err
	}
	args = append(args, sql.Named("old_version", r.Version))
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		n, err := execCount(ctx, tx, updateRequest, args...)
		if err != nil {
			return err
		}
		if n == 0 {
			// Nothing matched id and version: tell which one is wrong.
			exists, err := requestExists(ctx, tx, r.ID)
			switch {
			case err != nil:
				return err
			case exists:
				return store.ErrConflict
			}
			return store.ErrNotFound
		}
		return saveMachines(ctx, tx, machines)
	})
	if err != nil {
		return fmt.Errorf("update request %s: %w", r.ID, err)
	}
	*r = next
	return nil
}

// requestExists reports whether a request with id is stored.
func requestExists(ctx context.Context, tx *sql.Tx, id string) (bool, error) {
	var exists bool
	err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM requests WHERE id = ?)", id).Scan(&exists)
	return exists, err
}

// GetRequests returns the stored requests among ids, in the order of ids,
// each once.
func (s *Store) GetRequests(ctx context.Context, ids []string) ([]store.Request, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, selectRequests+" WHERE id IN "+inList, jsonList(ids))
	if err != nil {
		return nil, fmt.Errorf("get requests: %w", err)
	}
	found, err := scanRequests(rows)
	if err != nil {
		return nil, fmt.Errorf("get requests: %w", err)
	}
	byID := make(map[string]store.Request, len(found))
	for _, r := range found {
		byID[r.ID] = r
	}
	out := make([]store.Request, 0, len(found))
	for _, id := range ids {
		if r, ok := byID[id]; ok {
			out = append(out, r)
			delete(byID, id)
		}
	}
	return out, nil
}

// ListRequests lists requests, newest first.
func (s *Store) ListRequests(ctx context.Context, q store.RequestQuery) ([]store.Request, error) {
	var where []string
	var args []any
	if q.Kind != "" {
		where = append(where, "kind = ?")
		args = append(args, string(q.Kind))
	}
	if len(q.States) > 0 {
		where = append(where, "state IN "+inList)
		args = append(args, jsonList(q.States))
	}
	if q.TemplateID != "" {
		where = append(where, "template_id = ?")
		args = append(args, q.TemplateID)
	}
	query := selectRequests + whereClause(where) + " ORDER BY created_at DESC, rowid DESC"
	if q.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, q.Limit)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	out, err := scanRequests(rows)
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	return out, nil
}

// Usage returns the slots held per template; templates holding none are
// absent.
func (s *Store) Usage(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, allUsage)
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var template string
		var n int
		if err := rows.Scan(&template, &n); err != nil {
			return nil, fmt.Errorf("usage: %w", err)
		}
		if n != 0 {
			out[template] = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	return out, nil
}
