package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/ohfp/ohfp/internal/cloud"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store"
)

// migrations bring a store from schema version i (PRAGMA user_version) to
// i+1. Append only: a released migration never changes.
var migrations = []string{
	// 1: requests, machines, facts. Times are Unix nanoseconds (0 = zero
	// time). alive and finished are store.Machine.Alive and
	// store.State.Finished in SQL, spelt from the same values; the
	// conformance suite holds them equal, and TestMigrationsNeverChange
	// that a change of those rules comes with a migration of its own.
	`
CREATE TABLE requests (
	id            TEXT PRIMARY KEY,
	kind          TEXT NOT NULL,
	template_id   TEXT NOT NULL,
	template      BLOB,
	machine_count INTEGER NOT NULL,
	outstanding   INTEGER NOT NULL,
	rc_account    TEXT NOT NULL,
	user_data     BLOB,
	client_token  TEXT NOT NULL,
	cloud_ref     TEXT NOT NULL,
	machines      TEXT, -- JSON array of store.MachineRef
	state         TEXT NOT NULL,
	message       TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	version       INTEGER NOT NULL,
	finished      INTEGER GENERATED ALWAYS AS
		(` + finishedSQL + `) VIRTUAL
);
CREATE INDEX requests_state ON requests (state);
CREATE INDEX requests_kind ON requests (kind);
CREATE INDEX requests_template ON requests (template_id);
CREATE INDEX requests_created ON requests (created_at);

CREATE TABLE machines (
	instance_id   TEXT PRIMARY KEY,
	request_id    TEXT NOT NULL REFERENCES requests (id),
	return_id     TEXT REFERENCES requests (id), -- NULL when not returned
	template_id   TEXT NOT NULL,
	name          TEXT NOT NULL,
	private_ip    TEXT NOT NULL,
	public_ip     TEXT NOT NULL,
	state         TEXT NOT NULL,
	result        TEXT NOT NULL,
	message       TEXT NOT NULL,
	instance_type TEXT NOT NULL,
	price_type    TEXT NOT NULL,
	launch_time   INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	alive         INTEGER GENERATED ALWAYS AS
		(` + aliveSQL + `) VIRTUAL
);
CREATE INDEX machines_request ON machines (request_id, launch_time, instance_id);
CREATE INDEX machines_return ON machines (return_id);
CREATE INDEX machines_template ON machines (template_id);
-- Usage counts alive machines per template on every getAvailableTemplates.
CREATE INDEX machines_alive ON machines (template_id) WHERE alive;
CREATE INDEX machines_name ON machines (name);

CREATE TABLE facts (
	key        TEXT PRIMARY KEY,
	value      BLOB,
	updated_at INTEGER NOT NULL
);
`,
	// 2: the audit trail. Events name requests and machines without
	// foreign keys: they outlive neither, but are purged by time alone.
	`
CREATE TABLE events (
	id          INTEGER PRIMARY KEY, -- append order
	time        INTEGER NOT NULL,
	request_id  TEXT NOT NULL,
	instance_id TEXT NOT NULL,
	action      TEXT NOT NULL,
	actor       TEXT NOT NULL,
	detail      TEXT NOT NULL
);
CREATE INDEX events_request ON events (request_id, time) WHERE request_id <> '';
CREATE INDEX events_time ON events (time);
`,
	// 3: limit counters (see store.Limit). A request records the keys it
	// counts against; counters hold, per key, the Holds of its requests
	// plus their alive machines. Triggers move them in the statement that
	// changes a request or a machine, so no write can miss them; holds
	// restates store.Request.Holds for SQL. Existing create requests count
	// against their template, and the counters start from what is stored.
	`
ALTER TABLE requests ADD COLUMN limit_keys TEXT; -- JSON array; NULL counts nowhere
ALTER TABLE requests ADD COLUMN holds INTEGER GENERATED ALWAYS AS
	(CASE WHEN kind = 'create' AND NOT finished THEN outstanding ELSE 0 END) VIRTUAL;
UPDATE requests SET limit_keys = json_array('template:' || template_id) WHERE kind = 'create';

CREATE TABLE counters (
	key  TEXT PRIMARY KEY,
	held INTEGER NOT NULL
);

CREATE TRIGGER requests_count_insert AFTER INSERT ON requests WHEN NEW.holds <> 0 BEGIN
	INSERT INTO counters (key, held) SELECT value, NEW.holds FROM json_each(NEW.limit_keys) WHERE true
	ON CONFLICT (key) DO UPDATE SET held = held + excluded.held;
END;
CREATE TRIGGER requests_count_update AFTER UPDATE ON requests
WHEN OLD.holds <> NEW.holds OR OLD.limit_keys IS NOT NEW.limit_keys BEGIN
	UPDATE counters SET held = held - OLD.holds WHERE key IN (SELECT value FROM json_each(OLD.limit_keys));
	INSERT INTO counters (key, held) SELECT value, NEW.holds FROM json_each(NEW.limit_keys) WHERE true
	ON CONFLICT (key) DO UPDATE SET held = held + excluded.held;
END;
CREATE TRIGGER requests_count_delete AFTER DELETE ON requests WHEN OLD.holds <> 0 BEGIN
	UPDATE counters SET held = held - OLD.holds WHERE key IN (SELECT value FROM json_each(OLD.limit_keys));
END;

CREATE TRIGGER machines_count_insert AFTER INSERT ON machines WHEN NEW.alive BEGIN
	INSERT INTO counters (key, held)
	SELECT k.value, 1 FROM requests r, json_each(r.limit_keys) k WHERE r.id = NEW.request_id
	ON CONFLICT (key) DO UPDATE SET held = held + 1;
END;
CREATE TRIGGER machines_count_update AFTER UPDATE ON machines
WHEN OLD.alive <> NEW.alive OR OLD.request_id <> NEW.request_id BEGIN
	UPDATE counters SET held = held - OLD.alive WHERE key IN
		(SELECT k.value FROM requests r, json_each(r.limit_keys) k WHERE r.id = OLD.request_id);
	INSERT INTO counters (key, held)
	SELECT k.value, NEW.alive FROM requests r, json_each(r.limit_keys) k WHERE r.id = NEW.request_id
	ON CONFLICT (key) DO UPDATE SET held = held + excluded.held;
END;
CREATE TRIGGER machines_count_delete AFTER DELETE ON machines WHEN OLD.alive BEGIN
	UPDATE counters SET held = held - 1 WHERE key IN
		(SELECT k.value FROM requests r, json_each(r.limit_keys) k WHERE r.id = OLD.request_id);
END;

INSERT INTO counters (key, held) ` + countedQueryV3 + `;
`,
	// 4: the store's identity (store.Identity, as a fact), made in the same
	// transaction as the schema so that concurrent first opens agree on it.
	// A store that already holds requests dates from its oldest one.
	`
INSERT INTO facts (key, value, updated_at)
SELECT '` + store.IdentityFact + `',
	CAST(json_object('id', lower(hex(randomblob(16))), 'created', CASE
		WHEN (SELECT count(*) FROM requests) > 0
		THEN strftime('%Y-%m-%dT%H:%M:%fZ', (SELECT min(created_at) FROM requests) / 1e9, 'unixepoch')
		ELSE strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END) AS BLOB),
	0
WHERE NOT EXISTS (SELECT 1 FROM facts WHERE key = '` + store.IdentityFact + `');
`,
	// 5: what LSF reads of each machine: its CPU cores and threads as
	// launched, and its public DNS name.
	`
ALTER TABLE machines ADD COLUMN cores INTEGER NOT NULL DEFAULT 0;
ALTER TABLE machines ADD COLUMN threads INTEGER NOT NULL DEFAULT 0;
ALTER TABLE machines ADD COLUMN public_dns TEXT NOT NULL DEFAULT '';
`,
	// 6: weighted limits and windows (store.Limit). A request records the
	// weight of each key its machines count more than once against (a
	// policy's maxVCPUs); the triggers multiply by it. Windows count what
	// was admitted while they last (a policy's StepValue), apart from the
	// counters, which a recount may correct: nothing else moves them.
	`
ALTER TABLE requests ADD COLUMN limit_weights TEXT; -- JSON object key -> weight; NULL: one each

DROP TRIGGER requests_count_insert;
DROP TRIGGER requests_count_update;
DROP TRIGGER requests_count_delete;
DROP TRIGGER machines_count_insert;
DROP TRIGGER machines_count_update;
DROP TRIGGER machines_count_delete;

CREATE TRIGGER requests_count_insert AFTER INSERT ON requests WHEN NEW.holds <> 0 BEGIN
	INSERT INTO counters (key, held)
	SELECT k.value, NEW.holds * coalesce(w.value, 1) FROM json_each(NEW.limit_keys) k
	LEFT JOIN json_each(NEW.limit_weights) w ON w.key = k.value WHERE true
	ON CONFLICT (key) DO UPDATE SET held = held + excluded.held;
END;
CREATE TRIGGER requests_count_update AFTER UPDATE ON requests
WHEN OLD.holds <> NEW.holds OR OLD.limit_keys IS NOT NEW.limit_keys OR OLD.limit_weights IS NOT NEW.limit_weights BEGIN
	UPDATE counters SET held = held - OLD.holds *
		coalesce((SELECT w.value FROM json_each(OLD.limit_weights) w WHERE w.key = counters.key), 1)
	WHERE key IN (SELECT value FROM json_each(OLD.limit_keys));
	INSERT INTO counters (key, held)
	SELECT k.value, NEW.holds * coalesce(w.value, 1) FROM json_each(NEW.limit_keys) k
	LEFT JOIN json_each(NEW.limit_weights) w ON w.key = k.value WHERE true
	ON CONFLICT (key) DO UPDATE SET held = held + excluded.held;
END;
CREATE TRIGGER requests_count_delete AFTER DELETE ON requests WHEN OLD.holds <> 0 BEGIN
	UPDATE counters SET held = held - OLD.holds *
		coalesce((SELECT w.value FROM json_each(OLD.limit_weights) w WHERE w.key = counters.key), 1)
	WHERE key IN (SELECT value FROM json_each(OLD.limit_keys));
END;

CREATE TRIGGER machines_count_insert AFTER INSERT ON machines WHEN NEW.alive BEGIN
	INSERT INTO counters (key, held)
	SELECT k.value, coalesce(w.value, 1) FROM requests r JOIN json_each(r.limit_keys) k
	LEFT JOIN json_each(r.limit_weights) w ON w.key = k.value WHERE r.id = NEW.request_id
	ON CONFLICT (key) DO UPDATE SET held = held + excluded.held;
END;
CREATE TRIGGER machines_count_update AFTER UPDATE ON machines
WHEN OLD.alive <> NEW.alive OR OLD.request_id <> NEW.request_id BEGIN
	UPDATE counters SET held = held - OLD.alive *
		coalesce((SELECT w.value FROM requests r, json_each(r.limit_weights) w WHERE r.id = OLD.request_id AND w.key = counters.key), 1)
	WHERE key IN (SELECT k.value FROM requests r, json_each(r.limit_keys) k WHERE r.id = OLD.request_id);
	INSERT INTO counters (key, held)
	SELECT k.value, NEW.alive * coalesce(w.value, 1) FROM requests r JOIN json_each(r.limit_keys) k
	LEFT JOIN json_each(r.limit_weights) w ON w.key = k.value WHERE r.id = NEW.request_id
	ON CONFLICT (key) DO UPDATE SET held = held + excluded.held;
END;
CREATE TRIGGER machines_count_delete AFTER DELETE ON machines WHEN OLD.alive BEGIN
	UPDATE counters SET held = held -
		coalesce((SELECT w.value FROM requests r, json_each(r.limit_weights) w WHERE r.id = OLD.request_id AND w.key = counters.key), 1)
	WHERE key IN (SELECT k.value FROM requests r, json_each(r.limit_keys) k WHERE r.id = OLD.request_id);
END;

CREATE TABLE windows (
	key      TEXT PRIMARY KEY,
	launched INTEGER NOT NULL,
	until    INTEGER NOT NULL -- Unix nanoseconds: the window may be forgotten after
);
`,
	// 7: secrets at rest. Requests are stored without LSF's userData values
	// and without the template's userData values (config.Template.AtRest);
	// those stored before keep neither.
	`
UPDATE requests SET user_data = NULL WHERE user_data IS NOT NULL;
UPDATE requests SET template = CAST(json_set(CAST(template AS TEXT), '$.userData', '` + config.NotStored + `') AS BLOB)
WHERE template IS NOT NULL AND json_valid(CAST(template AS TEXT))
	AND json_type(CAST(template AS TEXT), '$.userData') = 'text';
`,
	// 8: when LSF first named each machine among its hosts (Unix
	// nanoseconds, 0 = never), which tells a host that never joined.
	`
ALTER TABLE machines ADD COLUMN listed_at INTEGER NOT NULL DEFAULT 0;
`,
	// 9: a request's own instance tags (store.Request.Tags), a JSON array
	// of config.Tag; NULL when it has none.
	`
ALTER TABLE requests ADD COLUMN tags TEXT;
`,
}

// countedQueryV3 is countedQuery as migration 3 ran it, before weights.
const countedQueryV3 = `
SELECT k.value, sum(c.n) FROM (
	SELECT r.limit_keys AS keys, count(*) AS n FROM machines m JOIN requests r ON r.id = m.request_id
	WHERE m.alive GROUP BY m.request_id
	UNION ALL
	SELECT limit_keys, holds FROM requests WHERE holds <> 0
) c, json_each(c.keys) k GROUP BY k.value`

// countedQuery is what each limit key holds, added up from the requests
// and machines themselves, weights applied: Recount's truth.
const countedQuery = `
SELECT k.value, sum(c.n * coalesce(w.value, 1)) FROM (
	SELECT r.limit_keys AS keys, r.limit_weights AS weights, count(*) AS n FROM machines m JOIN requests r ON r.id = m.request_id
	WHERE m.alive GROUP BY m.request_id
	UNION ALL
	SELECT limit_keys, limit_weights, holds FROM requests WHERE holds <> 0
) c, json_each(c.keys) k LEFT JOIN json_each(c.weights) w ON w.key = k.value GROUP BY k.value`

// migrate checks the schema version with one query and migrates only when
// the file is older than this binary.
func (s *Store) migrate(ctx context.Context) error {
	var version int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return s.openError(err)
	}
	if version == len(migrations) {
		return nil
	}
	if err := s.checkVersion(version); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Another process may have migrated since the first look.
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
			return err
		}
		if err := s.checkVersion(version); err != nil {
			return err
		}
		if version == 0 {
			var objects int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&objects); err != nil {
				return err
			}
			if objects > 0 {
				return fault.New(fault.Configuration, "state store %s is an SQLite database of something else than ohfp", s.path)
			}
		}
		for v := version; v < len(migrations); v++ {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migration to schema version %d: %w", v+1, err)
			}
		}
		// PRAGMA takes no parameters; the number is ours.
		_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations)))
		return err
	})
	if err != nil {
		return fault.Wrap("", err, "state store %s: migrate", s.path)
	}
	// WAL is a property of the file: set once, it stays. It cannot change
	// inside a transaction, and waits until the file is known to be ours.
	if _, err := s.db.ExecContext(ctx, "PRAGMA journal_mode = WAL"); err != nil {
		return fault.Wrap(fault.Internal, err, "state store %s: journal mode", s.path)
	}
	return nil
}

// current checks, without writing, that the store's schema is the one
// this binary knows: a store opened read-only cannot be migrated.
func (s *Store) current(ctx context.Context) error {
	version, err := s.SchemaVersion(ctx)
	if err != nil {
		return s.openError(err)
	}
	if err := s.checkVersion(version); err != nil {
		return err
	}
	if version < len(migrations) {
		return fault.New(fault.Configuration, "state store %s has schema version %d and cannot be upgraded to %d while it cannot be written", s.path, version, len(migrations))
	}
	return nil
}

// checkVersion refuses a store written by a newer ohfp.
func (s *Store) checkVersion(version int) error {
	if version > len(migrations) {
		return fault.New(fault.Configuration,
			"state store %s has schema version %d, newer than the %d this ohfp knows; use a newer ohfp",
			s.path, version, len(migrations))
	}
	return nil
}

// SchemaVersion is the schema version of the store's file; once Open has
// succeeded it is the one this binary knows.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var version int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, fmt.Errorf("state store %s: schema version: %w", s.path, err)
	}
	return version, nil
}

// finishedSQL and aliveSQL are store.State.Finished and
// store.Machine.Alive as SQL expressions over a row's state and result.
var (
	finishedSQL = "state IN (" + sqlList(slices.DeleteFunc(slices.Clone(store.States), func(s store.State) bool { return !s.Finished() })) + ")"
	aliveSQL    = "state NOT IN (" + sqlList(cloud.StatesWhere(func(s cloud.State) bool { return !s.Up() })) + ") AND result <> " + sqlList([]store.Result{store.ResultFail})
)

// sqlList spells values as a list of SQL string literals.
func sqlList[S ~string](values []S) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = "'" + strings.ReplaceAll(string(v), "'", "''") + "'"
	}
	return strings.Join(quoted, ", ")
}
