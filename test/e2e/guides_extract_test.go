package e2e

import (
	"regexp"
	"strings"
)

// guideExample is one JSON or YAML example of the OHFP guides, as the
// guide's text gives it.
type guideExample struct {
	Kind string `json:"kind"` // json or yaml
	Text string `json:"text"`
}

var (
	// yamlLine is a line of a YAML example: a comment, a key, a list item.
	yamlLine = regexp.MustCompile(`^\s*(#|- |[A-Za-z_][A-Za-z0-9_.-]*:(\s|$))`)
	yamlKey  = regexp.MustCompile(`^\s*[A-Za-z_][A-Za-z0-9_.-]*:(\s|$)`)
)

// guideExamples finds the JSON and YAML examples of a guide's text: a JSON
// example is a brace block opened on a line of its own; a YAML example is
// a run of two or more YAML lines with a key among them, split where a
// "# config/<file>" comment starts another file.
func guideExamples(text string) []guideExample {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var out []guideExample
	for i := 0; i < len(lines); {
		if strings.TrimSpace(lines[i]) == "{" {
			depth, j := 0, i
			for ; j < len(lines); j++ {
				depth += strings.Count(lines[j], "{") + strings.Count(lines[j], "[") - strings.Count(lines[j], "}") - strings.Count(lines[j], "]")
				if depth == 0 {
					break
				}
			}
			out = append(out, guideExample{Kind: "json", Text: strings.Join(lines[i:j+1], "\n")})
			i = j + 1
			continue
		}
		j := i
		keys := false
		for j < len(lines) && yamlLine.MatchString(lines[j]) {
			keys = keys || yamlKey.MatchString(lines[j])
			j++
		}
		if j-i < 2 || !keys {
			i = max(j, i+1)
			continue
		}
		start := i
		for k := i + 1; k <= j; k++ {
			if k == j || strings.HasPrefix(lines[k], "# config/") {
				out = append(out, guideExample{Kind: "yaml", Text: strings.Join(lines[start:k], "\n")})
				start = k
			}
		}
		i = j
	}
	return out
}
