// Package dynamo is the shared store.Store: state kept in DynamoDB so that
// several HostFactory hosts (a failed-over master, a standby) see one truth.
//
// # Tables
//
// Four tables, named after the configured prefix so the IAM pattern
// table/<prefix>-* covers them; all PAY_PER_REQUEST, created by Init:
//
//	<prefix>-requests  key id
//	  GSI by-state     state, created_key        (ALL)  listings by state; usage and
//	                                                     capacity read pending+running
//	  GSI by-template  template_id, created_key  (ALL)  listings by template
//	<prefix>-machines  key instance_id
//	  GSI by-request   request_id, launch_key    (ALL)  machines of create requests
//	  GSI by-return    return_id, launch_key     (ALL)  machines of return requests
//	  GSI by-template  template_id, launch_key   (ALL)  machines of a template
//	  GSI by-name      name, instance_id         (ALL)  machines by host name
//	  GSI alive        alive, alive_key          (KEYS_ONLY, sparse) alive machines
//	<prefix>-facts     key key
//	                   "fact#<key>": cached cloud facts
//	                   "guard#<template>": capacity guard of a template
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
// Usage is two Queries on by-state (pending, running) and one on alive,
// whatever the number of templates; keeping counters instead would need a read of every
// machine's previous state on each save. Only listings with neither a state
// nor a template (ListRequests' zero query, used by transfers) and Purge scan.
// Reads through indexes are eventually consistent; on AWS they trail writes
// by a fraction of a second.
//
// # Writes
//
// UpdateRequest is one TransactWriteItems: the request, conditional on its
// version, and up to 99 machines. With more machines the request is written
// conditionally first and its machines follow in BatchWriteItem calls: a
// crash between them leaves the request advanced and some machines not yet
// upserted (never the reverse), which the broker's next reconciliation,
// upserting machines from the cloud's answer, repairs.
//
// CreateRequest of a create request with a limit serialises on the
// template's guard item: it reads the guard's version, computes the usage,
// and commits {put request if absent, bump guard if its version is
// unchanged} in one transaction, retrying with jitter when another host
// bumped the guard first. Since usage is read through indexes, the guard
// also remembers the requests it admitted in the last 30 seconds, so a
// request admitted by another host counts even before the index shows it.
// What stays open is the index lag of an update that turns a request's
// Outstanding into alive machines: for that fraction of a second a check
// may see the one without the other.
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
