// Command docs writes the generated documentation: docs/reference.md from
// the settings tables of internal/config. Run it through "make docs".
package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/ohfp/ohfp/internal/config"
)

func main() {
	var b bytes.Buffer
	if err := config.WriteReference(&b); err != nil {
		fmt.Fprintln(os.Stderr, "docs:", err)
		os.Exit(1)
	}
	if err := os.WriteFile("docs/reference.md", b.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "docs:", err)
		os.Exit(1)
	}
}
