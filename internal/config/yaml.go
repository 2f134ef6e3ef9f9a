package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"
)

// yamlNodeBudget bounds the JSON a YAML file may expand to through aliases,
// so that a file of nested anchors cannot exhaust memory.
const yamlNodeBudget = 1 << 20

// yamlToJSON rewrites a YAML document as JSON, keeping the order of mapping
// keys (instanceTags keep their order), so that both formats are checked by
// the same code.
func yamlToJSON(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return []byte("{}"), nil
	}
	var b bytes.Buffer
	budget := yamlNodeBudget
	if err := writeJSON(&b, doc.Content[0], &budget); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeJSON(b *bytes.Buffer, n *yaml.Node, budget *int) error {
	if *budget--; *budget < 0 {
		return errors.New("too many nodes (aliases nested too deep?)")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		return writeJSON(b, n.Content[0], budget)
	case yaml.AliasNode:
		if n.Alias == nil {
			return errors.New("alias to nothing")
		}
		return writeJSON(b, n.Alias, budget)
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, c, budget); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.AliasNode {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode {
				return errors.New("mapping keys must be plain names")
			}
			if i > 0 {
				b.WriteByte(',')
			}
			key, _ := json.Marshal(k.Value)
			b.Write(key)
			b.WriteByte(':')
			if err := writeJSON(b, n.Content[i+1], budget); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return writeScalar(b, n)
	}
	return nil
}

// writeScalar keeps YAML's typing: numbers and booleans stay what they are
// (the checks then accept them where IBM's strings are accepted).
func writeScalar(b *bytes.Buffer, n *yaml.Node) error {
	var v any = n.Value
	switch n.ShortTag() {
	case "!!null":
		b.WriteString("null")
		return nil
	case "!!int", "!!float", "!!bool":
		if err := n.Decode(&v); err != nil {
			return err
		}
	}
	out, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("line %d: %s is not a finite number", n.Line, n.Value)
	}
	b.Write(out)
	return nil
}
