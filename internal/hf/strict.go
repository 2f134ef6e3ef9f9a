package hf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ohfp/ohfp/internal/fault"
)

// keys is the shape of a JSON object the contract names the keys of: each
// named key with the shape of its value (nil: any value, whose keys the
// contract does not name). An array takes the shape of its elements.
type keys map[string]keys

// The inputs' shapes, as the contract names their keys.
var (
	machinesShape        = keys{"machines": {"name": nil, "machineId": nil}}
	returnShape          = keys{"machines": machinesShape["machines"], "requestId": nil}
	requestMachinesShape = keys{
		"template":   {"templateId": nil, "machineCount": nil},
		"templateId": nil, // the OHFP guides' flat form
		"maxNumber":  nil,
		"attributes": nil, // tag keys: any case
		"rc_account": nil,
		"userData":   nil,
	}
	requestIDsShape = keys{"requests": {"requestId": nil}, "requestId": nil}
)

// checkKeys refuses input that means two things: an object that gives a key
// twice (encoding/json keeps the last one), or a key the contract names
// written in another case (encoding/json matches keys case-insensitively,
// so "TemplateId" would be taken as "templateId"). Anything else is left
// to decoding. Invalid JSON passes, for decode to explain.
func checkKeys(input []byte, shape keys) error {
	dec := json.NewDecoder(bytes.NewReader(input))
	err := walkValue(dec, "", shape)
	var fe *fault.Error
	if errors.As(err, &fe) {
		return err
	}
	return nil
}

// walkValue reads one value from dec; shape applies when it is an object,
// or to the elements when it is an array.
func walkValue(dec *json.Decoder, path string, shape keys) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		return walkObject(dec, path, shape)
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := walkValue(dec, fmt.Sprintf("%s[%d]", path, i), shape); err != nil {
				return err
			}
		}
		_, err := dec.Token() // ']'
		return err
	}
	return nil
}

func walkObject(dec *json.Decoder, path string, shape keys) error {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		field := key
		if path != "" {
			field = path + "." + key
		}
		if seen[key] {
			return fault.New(fault.InvalidRequest, "field %s is given twice", strconv.Quote(clip(field))).With("field", clip(field))
		}
		seen[key] = true
		inner, named := shape[key]
		if !named {
			for name := range shape {
				if strings.EqualFold(name, key) {
					return fault.New(fault.InvalidRequest, "field %s: the contract names it %q (keys are case-sensitive)", strconv.Quote(clip(field)), name).
						With("field", clip(field))
				}
			}
		}
		if err := walkValue(dec, field, inner); err != nil {
			return err
		}
	}
	_, err := dec.Token() // '}'
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}
