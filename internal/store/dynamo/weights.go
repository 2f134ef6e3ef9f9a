package dynamo

import (
	"slices"
	"strconv"
	"strings"
)

// A request's limit keys are stored as one string set, on the request and
// on each of its machines, so that every write can move the counters from
// the item alone. A key that each machine counts w times against
// (store.Request.LimitWeights) is stored as "*<w>*<key>": no limit key
// starts with '*', so the two forms never meet.

// encodeKeys is the stored form of keys with their weights.
func encodeKeys(keys []string, weights map[string]int) []string {
	if len(weights) == 0 {
		return keys
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k
		if w, ok := weights[k]; ok && w != 1 {
			out[i] = "*" + strconv.Itoa(w) + "*" + k
		}
	}
	return out
}

// splitKey reads one stored key: the limit key and its weight.
func splitKey(stored string) (key string, weight int) {
	if rest, ok := strings.CutPrefix(stored, "*"); ok {
		if w, k, ok := strings.Cut(rest, "*"); ok {
			if n, err := strconv.Atoi(w); err == nil {
				return k, n
			}
		}
	}
	return stored, 1
}

// decodeKeys reads stored keys back into limit keys and their weights.
func decodeKeys(stored []string) (keys []string, weights map[string]int) {
	if !slices.ContainsFunc(stored, func(s string) bool { return strings.HasPrefix(s, "*") }) {
		return stored, nil
	}
	keys = make([]string, len(stored))
	for i, s := range stored {
		k, w := splitKey(s)
		keys[i] = k
		if w != 1 {
			if weights == nil {
				weights = map[string]int{}
			}
			weights[k] = w
		}
	}
	return keys, weights
}
