package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
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
	"state", "message", "created_at", "updated_at", "version", "limit_keys", "limit_weights", "tags",
}

var (
	selectRequests = "SELECT " + strings.Join(requestColumns, ", ") + " FROM requests"
	insertRequest  = "INSERT INTO requests (" + strings.Join(requestColumns, ", ") +
		") VALUES (:" + strings.Join(requestColumns, ", :") + ")"
	// An update keeps the id, the creation time and the limits.
	updateRequest = "UPDATE requests SET " +
		assignments(slices.DeleteFunc(slices.Clone(requestColumns), func(c string) bool {
			return c == "id" || c == "created_at" || c == "limit_keys" || c == "limit_weights"
		}), ":") +
		" WHERE id = :id AND version = :old_version"
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
	var refs, keys, weights, tags any
	if len(r.Tags) > 0 {
		b, err := json.Marshal(r.Tags)
		if err != nil {
			return nil, fmt.Errorf("request %s: encode tags: %w", r.ID, err)
		}
		tags = string(b)
	}
	if len(r.LimitKeys) > 0 {
		keys = jsonList(r.LimitKeys)
	}
	if len(r.LimitWeights) > 0 {
		b, err := json.Marshal(r.LimitWeights)
		if err != nil {
			return nil, fmt.Errorf("request %s: encode limit weights: %w", r.ID, err)
		}
		weights = string(b)
	}
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
		sql.Named("limit_keys", keys),
		sql.Named("limit_weights", weights),
		sql.Named("tags", tags),
	}, nil
}

// scanRequests reads rows of requestColumns.
func scanRequests(rows *sql.Rows) ([]store.Request, error) {
	defer rows.Close()
	var out []store.Request
	for rows.Next() {
		var (
			r                store.Request
			refs, keys, wts  sql.NullString
			tags             sql.NullString
			created, updated int64
			kind, state      string
		)
		err := rows.Scan(&r.ID, &kind, &r.TemplateID, &r.Template, &r.MachineCount, &r.Outstanding,
			&r.RCAccount, &r.UserData, &r.ClientToken, &r.CloudRef, &refs,
			&state, &r.Message, &created, &updated, &r.Version, &keys, &wts, &tags)
		if err != nil {
			return nil, err
		}
		if refs.Valid {
			if err := json.Unmarshal([]byte(refs.String), &r.Machines); err != nil {
				return nil, fmt.Errorf("request %s: decode machines: %w", r.ID, err)
			}
		}
		if keys.Valid {
			if err := json.Unmarshal([]byte(keys.String), &r.LimitKeys); err != nil {
				return nil, fmt.Errorf("request %s: decode limit keys: %w", r.ID, err)
			}
		}
		if wts.Valid {
			if err := json.Unmarshal([]byte(wts.String), &r.LimitWeights); err != nil {
				return nil, fmt.Errorf("request %s: decode limit weights: %w", r.ID, err)
			}
		}
		if tags.Valid {
			if err := json.Unmarshal([]byte(tags.String), &r.Tags); err != nil {
				return nil, fmt.Errorf("request %s: decode tags: %w", r.ID, err)
			}
		}
		r.Kind, r.State = store.Kind(kind), store.State(state)
		r.CreatedAt, r.UpdatedAt = fromNanos(created), fromNanos(updated)
		out = append(out, r)
	}
	return out, rows.Err()
}

// CreateRequest stores r if its id is new and keeps every capped limit
// within its Max; see store.Store. The triggers of the schema count it.
func (s *Store) CreateRequest(ctx context.Context, r *store.Request, limits []store.Limit) error {
	next := *r
	if next.CreatedAt.IsZero() {
		next.CreatedAt = time.Now()
	}
	next.CreatedAt = next.CreatedAt.UTC()
	next.UpdatedAt = next.CreatedAt
	next.Version = 1
	next.LimitKeys = store.LimitKeys(limits)
	next.LimitWeights = store.LimitWeights(limits)
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
		if err := checkLimits(ctx, tx, limits, next.Holds()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, insertRequest, args...); err != nil {
			return err
		}
		return countWindows(ctx, tx, limits, next.Holds())
	})
	if err != nil {
		return fmt.Errorf("create request %s: %w", r.ID, err)
	}
	*r = next
	return nil
}

// checkLimits refuses a request holding holds unless every capped limit
// keeps within its Max; the transaction's write lock makes the check and
// the insert one step.
func checkLimits(ctx context.Context, tx *sql.Tx, limits []store.Limit, holds int) error {
	var keys, windows []string
	for _, l := range limits {
		switch {
		case l.Max < 0:
		case l.Window():
			windows = append(windows, l.Key)
		default:
			keys = append(keys, l.Key)
		}
	}
	if len(keys)+len(windows) == 0 || holds == 0 {
		return nil
	}
	held, err := heldOf(ctx, tx, keys)
	if err != nil {
		return err
	}
	launched, err := launchedOf(ctx, tx, windows)
	if err != nil {
		return err
	}
	for _, l := range limits {
		use := held[l.Key]
		if l.Window() {
			use = launched[l.Key]
		}
		if need := l.Need(holds); l.Max >= 0 && use+need > l.Max {
			return &store.CapacityError{Key: l.Key, Held: use, Max: l.Max, Need: need}
		}
	}
	return nil
}

// countWindows adds what a request holding holds was admitted for to the
// windows among limits.
func countWindows(ctx context.Context, tx *sql.Tx, limits []store.Limit, holds int) error {
	for _, l := range limits {
		if !l.Window() || holds == 0 {
			continue
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO windows (key, launched, until) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET launched = launched + excluded.launched`, l.Key, l.Need(holds), nanos(l.Until))
		if err != nil {
			return err
		}
	}
	return nil
}

// launchedOf reads the windows of keys; keys without one count 0.
func launchedOf(ctx context.Context, q querier, keys []string) (map[string]int, error) {
	return countsOf(ctx, q, "SELECT key, launched FROM windows WHERE key IN "+inList, keys)
}

// Launched reads the windows of keys; see store.Store.
func (s *Store) Launched(ctx context.Context, keys []string) (map[string]int, error) {
	launched, err := launchedOf(ctx, s.db, keys)
	if err != nil {
		return nil, fmt.Errorf("launched: %w", err)
	}
	return launched, nil
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// heldOf reads the counters of keys; keys without one hold 0.
func heldOf(ctx context.Context, q querier, keys []string) (map[string]int, error) {
	return countsOf(ctx, q, "SELECT key, held FROM counters WHERE key IN "+inList, keys)
}

// countsOf runs query, which selects a key and a count for the keys bound
// to its one parameter; keys it does not return count 0.
func countsOf(ctx context.Context, q querier, query string, keys []string) (map[string]int, error) {
	held := make(map[string]int, len(keys))
	for _, k := range keys {
		held[k] = 0
	}
	if len(keys) == 0 {
		return held, nil
	}
	rows, err := q.QueryContext(ctx, query, jsonList(keys))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		held[k] = n
	}
	return held, rows.Err()
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
	if q.After != "" {
		created, id, err := store.ParsePageToken(q.After)
		if err != nil {
			return nil, fmt.Errorf("list requests: %w", err)
		}
		where = append(where, "(created_at, id) < (?, ?)")
		args = append(args, nanos(created), id)
	}
	query := selectRequests + whereClause(where) + " ORDER BY created_at DESC, id DESC"
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

// Held reads the counters of keys; see store.Store.
func (s *Store) Held(ctx context.Context, keys []string) (map[string]int, error) {
	held, err := heldOf(ctx, s.db, keys)
	if err != nil {
		return nil, fmt.Errorf("held: %w", err)
	}
	return held, nil
}

// Recount compares the counters of keys with what the requests and
// machines hold, in one transaction: nothing is in flight inside it, so a
// difference (only an edit behind ohfp's back can make one) is corrected
// both ways.
func (s *Store) Recount(ctx context.Context, keys []string) ([]store.Drift, error) {
	var drifts []store.Drift
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		held, err := heldOf(ctx, tx, keys)
		if err != nil {
			return err
		}
		counted := map[string]int{}
		rows, err := tx.QueryContext(ctx, countedQuery)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			var n int
			if err := rows.Scan(&k, &n); err != nil {
				return err
			}
			counted[k] = n
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, k := range unique(keys) {
			if held[k] == counted[k] {
				continue
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO counters (key, held) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET held = excluded.held`, k, counted[k])
			if err != nil {
				return err
			}
			drifts = append(drifts, store.Drift{Key: k, Counter: held[k], Counted: counted[k], Corrected: true})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("recount: %w", err)
	}
	return drifts, nil
}

// unique returns xs without repeats, first occurrences in order.
func unique(xs []string) []string {
	var out []string
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
