// Package dynamo is the shared store.Store: state kept in DynamoDB so that
// several HostFactory hosts (a failed-over master, a standby) see one truth.
//
// # Tables
//
// Four tables, named after the configured prefix so the IAM pattern
// table/<prefix>-* covers them; all PAY_PER_REQUEST, created by Init:
//
//	<prefix>-requests  key id
//	  GSI by-state     state, created_key        (ALL)  listings by state; a counter's
//	                                                     recount reads one Query per
//	                                                     unfinished state (pending,
//	                                                     placed, running)
//	  GSI by-template  template_id, created_key  (ALL)  listings by template
//	<prefix>-machines  key instance_id
//	  GSI by-request   request_id, launch_key    (ALL)  machines of create requests
//	  GSI by-return    return_id, launch_key     (ALL)  machines of return requests
//	  GSI by-template  template_id, launch_key   (ALL)  machines of a template
//	  GSI by-name      name, instance_id         (ALL)  machines by host name
//	  GSI alive        alive, alive_key          (KEYS_ONLY, sparse) alive machines
//	<prefix>-facts     key key
//	                   "fact#<key>": cached cloud facts
//	                   "counter#<limit key>": a limit's counter (counter.go)
//	<prefix>-events    key day, sk  the audit trail
//	  GSI by-request   request_id, sk            (ALL)  events of one request
//
// created_key and launch_key are zero-padded Unix nanoseconds followed by
// the item's id, so index order is time order. alive is present ("1") only
// on machines that store.Machine.Alive calls alive, with alive_key
// "<template>#<instance>", so one Query yields every template's alive
// machines (Usage) or, with begins_with, one template's (capacity checks)
// without touching dead machines. Empty key attributes are left out, which
// keeps the indexes sparse.
//
// An event's day is the UTC date of its time ("2026-11-23") and its sk the
// zero-padded Unix nanoseconds, its index in its AppendEvents call and a
// random tail, so the recent events are one Query per day, newest first,
// and a request's events one Query on by-request. Events carry expires_at =
// time + Retention; a listing looks no further back than Retention.
//
// # Reads
//
// GetRequests and lookups by instance id are BatchGetItem calls of up to 100
// keys (strongly consistent, unprocessed keys retried); machines of
// requests are one paginated Query per request on by-request, eight at a
// time. Reading 1,000 machines thus takes 10 calls by instance id, and by
// request as many calls as requests (a page holds thousands of machines).
// Held reads limit counters by key, strongly consistent. Reads through
// indexes are eventually consistent (on AWS they trail writes by a
// fraction of a second), so they serve listings and never decide a limit.
//
// # Writes
//
// Every write that changes what an item holds of its limits (a request's
// Holds, a machine's being alive) reads the stored items first and commits
// in one TransactWriteItems: the items, each conditional on the state it
// was read in (a request on its version, a machine on being absent, alive
// or dead), and an update of each limit counter they move. UpdateRequest
// writes the request with up to 80 machines; more follow in transactions
// of 80, each with its own counter moves, so a crash in between leaves the
// counters true to what was written and the next reconciliation upserts
// the rest.
//
// CreateRequest is one transaction: the request if its id is new, and
// ADD held on each counter, conditional on held <= Max - Holds for capped
// limits. Counters are described in counter.go and docs/ha.md.
//
// # Expiry
//
// Dead machines carry expires_at = updated + Retention (epoch seconds) for
// DynamoDB's TTL, which Init enables; alive machines never expire. A
// finished request carries it too, but only once none of its machines is
// alive: the write that finishes it checks its machines, and a later write
// that kills its last alive machine (a return) sets it to now + Retention.
// So a host running for months keeps its create request, which returning
// the host needs. Purge deletes at once, following store.Store's rules.
package dynamo
