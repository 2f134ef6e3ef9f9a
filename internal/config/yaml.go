package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"
)

// The YAML parser costs ten times the rest of loading (some 50 ms for 1,000
// templates, against a few for the same in JSON), and every HostFactory call
// pays it. So the last YAML config rewritten as JSON is kept in the work
// folder under the hash of its text, one file per provider instance (the
// folder may be shared), and used while the text is unchanged and the
// caching settings allow (Caching: off, or older than ConfigTTL, it is
// parsed again).
const (
	yamlCacheName = ".ohfp-config-cache"
	// yamlCacheVersion is part of the key: a release that rewrites YAML
	// differently must not read an older release's cache.
	yamlCacheVersion = "ohfp yaml-to-json 1\n"
)

// yamlCache is the cache of one YAML config's rewrite. The cache is best
// effort: a folder that is missing or read-only only means no cache.
type yamlCache struct {
	dir, name string
	yaml      []byte

	key    string
	json   []byte
	parsed bool      // json was parsed now, not read from the cache
	at     time.Time // when the cache was written, when json came from it
}

// read returns the YAML rewritten as JSON, from the cache when it holds
// this text's rewrite.
func (y *yamlCache) read() ([]byte, error) {
	h := sha256.New()
	h.Write([]byte(yamlCacheVersion))
	h.Write(y.yaml)
	y.key = hex.EncodeToString(h.Sum(nil))
	if cached, err := os.ReadFile(y.path()); err == nil {
		fi, serr := os.Stat(y.path())
		if k, out, ok := bytes.Cut(cached, []byte("\n")); serr == nil && ok && string(k) == y.key {
			if valid, _ := validJSON(out); valid {
				y.json, y.at = out, fi.ModTime()
				return out, nil
			}
		}
	}
	return y.parse()
}

func (y *yamlCache) parse() ([]byte, error) {
	out, err := yamlToJSON(y.yaml)
	y.json, y.parsed = out, err == nil
	return out, err
}

func (y *yamlCache) path() string { return filepath.Join(y.dir, y.name) }

// settle applies the caching settings c once they are read: off, the cache
// is removed; on, a rewrite parsed now is kept, and a cached one older
// than c.ConfigTTL is parsed again and kept anew.
func (y *yamlCache) settle(c Caching) {
	switch {
	case c.Off:
		os.Remove(y.path())
		return
	case !y.parsed && c.ConfigTTL > 0 && time.Since(y.at) > c.ConfigTTL:
		if _, err := y.parse(); err != nil {
			return
		}
	}
	if y.parsed {
		writeCache(y.dir, y.path(), append([]byte(y.key+"\n"), y.json...))
	}
}

// writeCache replaces path atomically, since concurrent calls read it.
func writeCache(dir, path string, content []byte) {
	f, err := os.CreateTemp(dir, filepath.Base(path)+"-*")
	if err != nil {
		return
	}
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
}

// Bounds on the JSON a YAML file may expand to through aliases, so that a
// file of nested or self-referencing anchors cannot exhaust memory or stack.
const (
	yamlNodeBudget = 1 << 18
	yamlMaxDepth   = 64
)

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
	w := jsonWriter{budget: yamlNodeBudget}
	if err := w.write(doc.Content[0], 0); err != nil {
		return nil, err
	}
	return w.b.Bytes(), nil
}

type jsonWriter struct {
	b      bytes.Buffer
	budget int
}

func (w *jsonWriter) write(n *yaml.Node, depth int) error {
	w.budget--
	switch {
	case w.budget < 0:
		return errors.New("too many nodes (aliases expand too far)")
	case depth > yamlMaxDepth:
		return errors.New("nested too deep")
	}
	b := &w.b
	switch n.Kind {
	case yaml.DocumentNode:
		return w.write(n.Content[0], depth)
	case yaml.AliasNode:
		if n.Alias == nil {
			return errors.New("alias to nothing")
		}
		return w.write(n.Alias, depth+1)
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := w.write(c, depth+1); err != nil {
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
			if err := w.write(n.Content[i+1], depth+1); err != nil {
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
