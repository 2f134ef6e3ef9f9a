// Package cli renders ohfp's listings for people and scripts: aligned
// tables on a terminal, JSON or YAML otherwise. Keys are snake_case, or
// HostFactory's camelCase with Legacy set.
package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Format is an output format.
type Format string

// Formats. Wide is a table with every column; Table leaves out the
// wideColumns and cuts long cells, so that it fits in maxWidth columns.
const (
	Table Format = "table"
	Wide  Format = "wide"
	JSON  Format = "json"
	YAML  Format = "yaml"
)

// wideColumns are shown only by -o wide.
var wideColumns = map[string]bool{
	"private_ip_address": true, "public_ip_address": true, "price_type": true, "return_id": true, "image_id": true,
}

// ParseFormat reads --output; empty means a table on a terminal and JSON
// when the output goes to a program.
func ParseFormat(s string, terminal bool) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case Table, Wide, JSON, YAML:
		return f, nil
	case "":
		if terminal {
			return Table, nil
		}
		return JSON, nil
	}
	return "", fmt.Errorf("--output %q: want table, wide, json or yaml", s)
}

// Field is one named value of a Record. A value that is a []Record is a
// nested list (the machines of a request).
type Field struct {
	Key   string // snake_case
	Value any
}

// Record is one thing listed, its fields in display order.
type Record []Field

// Output writes records in one format.
type Output struct {
	W      io.Writer
	Format Format
	Legacy bool // camelCase keys, as HostFactory writes them
}

// List writes records as a table, a JSON array or a YAML sequence.
func (o Output) List(rs []Record) error {
	switch o.Format {
	case Table, Wide:
		return o.table(rs)
	case YAML:
		return o.yaml(o.listNode(rs))
	}
	return o.json(o.listValue(rs))
}

// One writes one record: aligned "key: value" lines and its nested lists
// as tables, a JSON object, or a YAML mapping.
func (o Output) One(r Record) error {
	switch o.Format {
	case Table, Wide:
		return o.detail(r)
	case YAML:
		return o.yaml(o.node(r))
	}
	return o.json(o.value(r))
}

// Key is a snake_case key as this output spells it.
func (o Output) Key(k string) string {
	if !o.Legacy {
		return k
	}
	if camel, ok := legacyKeys[k]; ok {
		return camel
	}
	parts := strings.Split(k, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// legacyKeys are HostFactory's spellings that are not plain camelCase.
var legacyKeys = map[string]string{"launch_time": "launchtime"}

// ordered is a JSON object that keeps its keys in order.
type ordered []struct {
	key   string
	value any
}

func (m ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range m {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv.key)
		v, err := json.Marshal(kv.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (o Output) value(r Record) ordered {
	m := make(ordered, len(r))
	for i, f := range r {
		m[i].key = o.Key(f.Key)
		m[i].value = o.plain(f.Value)
		if nested, ok := f.Value.([]Record); ok {
			m[i].value = o.listValue(nested)
		}
	}
	return m
}

func (o Output) listValue(rs []Record) []ordered {
	out := make([]ordered, len(rs))
	for i, r := range rs {
		out[i] = o.value(r)
	}
	return out
}

// plain turns values into what both JSON and YAML write well: times in
// RFC 3339, or in seconds since the epoch as HostFactory writes them with
// Legacy; durations as "5m0s".
func (o Output) plain(v any) any {
	switch x := v.(type) {
	case time.Time:
		if x.IsZero() {
			return nil
		}
		if o.Legacy {
			return x.Unix()
		}
		return x.UTC().Format(time.RFC3339)
	case time.Duration:
		return x.Round(time.Second).String()
	}
	return v
}

func (o Output) json(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = o.W.Write(append(b, '\n'))
	return err
}

func (o Output) node(r Record) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, f := range r {
		var v yaml.Node
		if nested, ok := f.Value.([]Record); ok {
			v = *o.listNode(nested)
		} else if err := v.Encode(o.plain(f.Value)); err != nil {
			v = yaml.Node{Kind: yaml.ScalarNode, Value: fmt.Sprint(f.Value)}
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: o.Key(f.Key)}, &v)
	}
	return n
}

func (o Output) listNode(rs []Record) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for _, r := range rs {
		n.Content = append(n.Content, o.node(r))
	}
	return n
}

func (o Output) yaml(n *yaml.Node) error {
	enc := yaml.NewEncoder(o.W)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return err
	}
	return enc.Close()
}

// table writes records under a header of their keys; nested lists are
// left out (a table cell cannot hold one). A Table fits in maxWidth
// columns: the widest columns are cut (with "…") until it does.
func (o Output) table(rs []Record) error {
	if len(rs) == 0 {
		_, err := fmt.Fprintln(o.W, "(none)")
		return err
	}
	var rows [][]string
	var head []string
	for _, f := range rs[0] {
		if o.shows(f) {
			head = append(head, strings.ToUpper(strings.ReplaceAll(f.Key, "_", " ")))
		}
	}
	rows = append(rows, head)
	for _, r := range rs {
		var cells []string
		for _, f := range r {
			if o.shows(f) {
				cells = append(cells, cell(f.Value))
			}
		}
		rows = append(rows, cells)
	}
	if o.Format != Wide {
		fit(rows, maxWidth)
	}
	tw := tabwriter.NewWriter(o.W, 0, 4, columnGap, ' ', 0)
	for _, cells := range rows {
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

const (
	maxWidth  = 160 // columns a Table may take
	columnGap = 2
	minColumn = 12 // no column is cut below this
)

// fit cuts the cells of the widest columns until the rows fit in width.
func fit(rows [][]string, width int) {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	total := func() int {
		n := columnGap * (len(widths) - 1)
		for _, w := range widths {
			n += w
		}
		return n
	}
	for total() > width {
		widest := 0
		for i, w := range widths {
			if w > widths[widest] {
				widest = i
			}
		}
		if widths[widest] <= minColumn {
			break
		}
		widths[widest]--
	}
	for _, r := range rows {
		for i, c := range r {
			if utf8.RuneCountInString(c) > widths[i] {
				r[i] = string([]rune(c)[:widths[i]-1]) + "…"
			}
		}
	}
}

// shows tells whether a table has a column for f: nested lists never
// (a cell cannot hold one), wide columns only with -o wide.
func (o Output) shows(f Field) bool {
	if _, nested := f.Value.([]Record); nested {
		return false
	}
	return o.Format == Wide || !wideColumns[f.Key]
}

func (o Output) detail(r Record) error {
	tw := tabwriter.NewWriter(o.W, 0, 4, 2, ' ', 0)
	var nested []Field
	for _, f := range r {
		if _, ok := f.Value.([]Record); ok {
			nested = append(nested, f)
			continue
		}
		fmt.Fprintf(tw, "%s:\t%s\n", strings.ReplaceAll(f.Key, "_", " "), cell(f.Value))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range nested {
		fmt.Fprintf(o.W, "\n%s:\n", strings.ReplaceAll(f.Key, "_", " "))
		if err := o.table(f.Value.([]Record)); err != nil {
			return err
		}
	}
	return nil
}

// cell is a value as a table shows it: times in UTC to the second, lists
// and maps as compact JSON, nothing as "-".
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		if x == "" {
			return "-"
		}
		return x
	case time.Time:
		if x.IsZero() {
			return "-"
		}
		return x.UTC().Format("2006-01-02 15:04:05")
	case time.Duration:
		return x.Round(time.Second).String()
	case fmt.Stringer:
		return x.String()
	case int, int64, bool:
		return fmt.Sprint(x)
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.String { // typed states and results
		return cell(rv.String())
	}
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" || string(b) == "{}" || string(b) == "[]" {
		return "-"
	}
	return string(b)
}
