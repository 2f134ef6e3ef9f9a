package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestDocumentedCommandsParse holds the docs to the CLI: every ohfp
// command line in README.md and docs/*.md names a command that exists,
// with flags it has and an acceptable number of arguments.
func TestDocumentedCommandsParse(t *testing.T) {
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../../README.md")
	n := 0
	for _, file := range files {
		for _, c := range documentedCommands(t, file) {
			n++
			if err := parses(c.args, c.runnable); err != nil {
				t.Errorf("%s:%d: %q: %v", filepath.Base(file), c.line, strings.Join(c.args, " "), err)
			}
		}
	}
	if n < 40 {
		t.Errorf("only %d command lines found: the extraction broke", n)
	}
}

// parses checks args against a fresh command tree, as a run would read
// them, without running anything. Placeholders (ID, N, ...) stand for
// values of the flag's type, and a flag named alone in prose stands for
// itself; the number of arguments is checked only for runnable lines.
func parses(args []string, runnable bool) error {
	root := rootCommand()
	root.InitDefaultHelpFlag()
	root.InitDefaultVersionFlag()
	root.InitDefaultCompletionCmd()
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	rest = samples(cmd, rest)
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	if !runnable {
		return nil
	}
	return cmd.ValidateArgs(cmd.Flags().Args())
}

// placeholder is a value the docs leave to the reader: N, ID, CONFIG_FILE.
var placeholder = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// samples puts a value of the flag's type in place of each placeholder
// given to a flag, and after a value-taking flag that ends the line.
func samples(cmd *cobra.Command, args []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		name, _, inline := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "--") || inline {
			continue
		}
		f := cmd.Flags().Lookup(name)
		if f == nil || f.NoOptDefVal != "" {
			continue
		}
		sample := map[string]string{"int": "1", "duration": "1s", "float64": "1"}[f.Value.Type()]
		if sample == "" {
			sample = "x"
		}
		switch {
		case i+1 == len(out):
			out = append(out, sample)
		case placeholder.MatchString(out[i+1]):
			out[i+1] = sample
		}
	}
	return out
}

type documented struct {
	line     int
	args     []string // after "ohfp"
	runnable bool     // a line of a code block, not a mention in prose
}

var (
	inlineCode = regexp.MustCompile("`((?:bin/)?ohfp [^`]*)`")
	// envAssignment is a variable set for one command: NAME=value.
	envAssignment = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`)
)

// documentedCommands finds the command lines of a markdown file: lines of
// sh code blocks that run ohfp (after variables, sudo or a $ prompt; in
// console blocks only $ lines), and inline code that starts with ohfp.
// In inline code, a|b lists alternatives for the last word before the
// first bar, as in `ohfp requests list|show ID`.
func documentedCommands(t *testing.T, file string) []documented {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []documented
	fence, lang := false, ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "```"); ok {
			fence, lang = !fence, rest
			continue
		}
		if fence {
			if args, ok := shellCommand(line, lang == "console"); ok {
				out = append(out, documented{n, args, true})
			}
			continue
		}
		for _, m := range inlineCode.FindAllStringSubmatch(line, -1) {
			for _, alt := range alternatives(strings.ReplaceAll(m[1], `\|`, "|")) {
				out = append(out, documented{n, words(alt)[1:], false})
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// shellCommand reads a code block line as a shell command running ohfp,
// up to a comment, a pipe or a redirection.
func shellCommand(line string, console bool) ([]string, bool) {
	line = strings.TrimSpace(line)
	prompt := strings.HasPrefix(line, "$ ")
	if console && !prompt {
		return nil, false
	}
	line = strings.TrimPrefix(line, "$ ")
	if i := strings.IndexAny(line, "#|>;&"); i >= 0 {
		line = line[:i]
	}
	ws := words(line)
	for len(ws) > 0 && (envAssignment.MatchString(ws[0]) || ws[0] == "sudo") {
		ws = ws[1:]
	}
	if len(ws) == 0 || (ws[0] != "ohfp" && ws[0] != "bin/ohfp" && !(strings.HasPrefix(ws[0], "/") && strings.HasSuffix(ws[0], "/ohfp"))) {
		return nil, false
	}
	return ws[1:], true
}

// alternatives spells out a|b|c: each alternative takes the place of the
// last word before the first bar.
func alternatives(s string) []string {
	parts := strings.Split(s, "|")
	if len(parts) == 1 {
		return parts
	}
	base, first := "", parts[0]
	if i := strings.LastIndexByte(first, ' '); i >= 0 {
		base, first = first[:i+1], first[i+1:]
	}
	out := []string{base + first}
	for _, p := range parts[1:] {
		out = append(out, base+p)
	}
	return out
}

// words splits a command line on spaces, dropping the brackets around
// optional parts ([--all], [--from-ibm DIR]).
func words(s string) []string {
	var out []string
	for _, w := range strings.Fields(s) {
		if w = strings.Trim(w, "[]"); w != "" {
			out = append(out, w)
		}
	}
	return out
}
