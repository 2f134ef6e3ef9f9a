// Package scripts holds the provider scripts HostFactory and LSF run: one
// per operation, and invoke_provider.sh, which they share. `ohfp init`
// writes these very files, so an instance folder runs what this folder
// holds.
package scripts

import "embed"

// Files holds every script, by its name.
//
//go:embed *.sh
var Files embed.FS
