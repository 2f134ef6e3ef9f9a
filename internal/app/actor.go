package app

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// Actor names who asks for an operation, for the audit trail:
// "<operation> by <os user>@<host> pid <n>".
func Actor(operation string) string {
	name := User()
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s by %s@%s pid %d", operation, name, host, os.Getpid())
}

// User is the Unix user running this process: the principal of the CLI
// and of HostFactory's scripts.
func User() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

// command names the command of a command line: the program and up to two
// words before the first flag, such as "ohfp reconcile" or "ohfp requests
// list".
func command(args []string) string {
	if len(args) == 0 {
		return "ohfp"
	}
	words := []string{filepath.Base(args[0])}
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-") || len(words) == 3 {
			break
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}
