package main

import (
	"bufio"
	"fmt"
	"io"
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
	examples, err := filepath.Glob("../../examples/*/README.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(append(files, examples...), "../../README.md")
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

// TestDocumentedCommandsAreFound is the extraction TestDocumentedCommandsParse
// relies on: every way the docs write a command is read, whole, and a
// flag the CLI lacks is caught wherever it stands.
func TestDocumentedCommandsAreFound(t *testing.T) {
	doc := "Run `sudo -u egoadmin ohfp requests list --nope1` or\n" +
		"`HF_PROVIDER_NAME=a ohfp store init --nope2`, `ohfp requests list|show --nope3`.\n" +
		"```sh\n" +
		"HF_CONFIG_PATH=x.json \\\n" +
		"  ohfp store migrate \\\n" +
		"    --to y.json --nope4   # a comment\n" +
		"ohfp doctor && sudo -E ohfp templates list --nope5 | less\n" +
		"echo ohfp --nope\n" +
		"```\n" +
		"```console\n" +
		"$ ohfp version --nope6\n" +
		"ohfp output --nope\n" +
		"```\n" +
		"| flag | meaning |\n| --- | --- |\n" +
		"| `--json` | as JSON |\n" +
		"| `--nope7`, `x` | none |\n"
	want := []string{
		"1 requests list --nope1",
		"2 store init --nope2",
		"2 requests list",
		"2 requests show --nope3",
		"4 store migrate --to y.json --nope4",
		"7 doctor",
		"7 templates list --nope5",
		"11 version --nope6",
		"16 version --json",
		"17 version --nope7",
	}
	var got []string
	for _, c := range commandsOf(t, strings.NewReader(doc)) {
		got = append(got, fmt.Sprint(c.line, " ", strings.Join(c.args, " ")))
		if err := parses(c.args, c.runnable); (err == nil) == strings.Contains(got[len(got)-1], "--nope") {
			t.Errorf("line %d %q parses: %v", c.line, c.args, err)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("found\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
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
	inlineCode = regexp.MustCompile("`([^`]+)`")
	// envAssignment is a variable set for one command: NAME=value.
	envAssignment = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`)
	// commandSeparator ends one command of a shell line and starts the next.
	commandSeparator = regexp.MustCompile(`&&|\|\||;`)
)

// documentedCommands finds the command lines of a markdown file: commands
// of code blocks that run ohfp (after variables, sudo or a $ prompt; in
// console blocks only $ lines), continued lines read whole, inline code
// that runs ohfp, and the flags a table lists for the command shown last. In inline code, a|b lists alternatives for the last
// word before the first bar, as in `ohfp requests list|show ID`.
func documentedCommands(t *testing.T, file string) []documented {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return commandsOf(t, f)
}

func commandsOf(t *testing.T, r io.Reader) []documented {
	t.Helper()
	var out []documented
	fence, lang := false, ""
	continued, from := "", 0 // a code block line ending in a backslash, and where it began
	var last []string        // the last command of a code block, whose flags a table may list
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "```"); ok && continued == "" {
			fence, lang = !fence, rest
			continue
		}
		if fence {
			if head, ok := strings.CutSuffix(strings.TrimRight(line, " "), `\`); ok {
				if continued == "" {
					from = n
				}
				continued += head + " "
				continue
			}
			at := n
			if continued != "" {
				line, at, continued = continued+line, from, ""
			}
			for _, args := range shellCommands(line, lang == "console") {
				out = append(out, documented{at, args, true})
				last = args
				if i := slices.IndexFunc(args, func(a string) bool { return strings.HasPrefix(a, "-") }); i >= 0 {
					last = args[:i] // the command, without its flags
				}
			}
			continue
		}
		if cells := strings.Split(line, "|"); len(cells) > 2 && strings.TrimSpace(cells[0]) == "" {
			// A table of flags: each flag of its first column is one of
			// the command shown last.
			for _, m := range inlineCode.FindAllStringSubmatch(cells[1], -1) {
				if strings.HasPrefix(m[1], "--") {
					out = append(out, documented{n, append(slices.Clone(last), m[1]), false})
				}
			}
		}
		for _, m := range inlineCode.FindAllStringSubmatch(line, -1) {
			for _, alt := range alternatives(strings.ReplaceAll(m[1], `\|`, "|")) {
				if args, ok := ohfpArgs(words(alt)); ok {
					out = append(out, documented{n, args, false})
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if continued != "" {
		t.Errorf("line %d: a command continued past the end of its code block", from)
	}
	return out
}

// shellCommands reads a code block line as shell commands and returns the
// arguments of those that run ohfp, each up to a comment, a pipe or a
// redirection.
func shellCommands(line string, console bool) [][]string {
	line = strings.TrimSpace(line)
	if console {
		var prompt bool
		if line, prompt = strings.CutPrefix(line, "$ "); !prompt {
			return nil
		}
	}
	line = strings.TrimPrefix(line, "$ ")
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	var out [][]string
	for _, c := range commandSeparator.Split(line, -1) {
		if i := strings.IndexAny(c, "|>&"); i >= 0 {
			c = c[:i]
		}
		if args, ok := ohfpArgs(words(c)); ok {
			out = append(out, args)
		}
	}
	return out
}

// ohfpArgs gives the arguments of a command that runs ohfp, after the
// variables it sets and sudo with its options.
func ohfpArgs(ws []string) ([]string, bool) {
	for len(ws) > 0 && envAssignment.MatchString(ws[0]) {
		ws = ws[1:]
	}
	if len(ws) > 0 && ws[0] == "sudo" {
		for ws = ws[1:]; len(ws) > 0 && strings.HasPrefix(ws[0], "-"); ws = ws[1:] {
			if (ws[0] == "-u" || ws[0] == "-g") && len(ws) > 1 {
				ws = ws[1:]
			}
		}
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
