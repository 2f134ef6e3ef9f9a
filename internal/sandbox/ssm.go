package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// ssmService is SSM's JSON 1.1 protocol (X-Amz-Target: AmazonSSM.<Action>).
func ssmService() *service {
	return &service{
		name:        "ssm",
		contentType: "application/x-amz-json-1.1",
		actions: map[string]handler{
			"GetParameter":  (*Sandbox).getParameter,
			"GetParameters": (*Sandbox).getParameters,
		},
		writeError: writeJSONError,
	}
}

// writeJSONError renders e as the JSON protocols do.
func writeJSONError(b *bytes.Buffer, _ string, e *apiError) {
	json.NewEncoder(b).Encode(map[string]string{"__type": e.Code, "message": e.Message})
}

type ssmParameter struct {
	Name     string
	Value    string
	Type     string
	DataType string
	Version  int64
	ARN      string
}

// parameter is the SSM parameter name, if it exists. Caller holds s.mu.
func (s *Sandbox) parameter(name string) (ssmParameter, bool) {
	v, ok := s.world.params[name]
	if !ok {
		return ssmParameter{}, false
	}
	return ssmParameter{
		Name: name, Value: v, Type: "String", DataType: "text", Version: 1,
		ARN: "arn:aws:ssm:" + s.opts.Region + "::parameter" + name,
	}, true
}

func decodeJSON(c *call, v any) error {
	if err := json.Unmarshal(c.body, v); err != nil {
		return apiErrorf(http.StatusBadRequest, "SerializationException", "Malformed request body: %v", err)
	}
	return nil
}

func (s *Sandbox) getParameter(c *call) error {
	var in struct{ Name string }
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	s.mu.RLock()
	p, ok := s.parameter(in.Name)
	s.mu.RUnlock()
	if !ok {
		return apiErrorf(http.StatusBadRequest, "ParameterNotFound", "Parameter %s not found.", in.Name)
	}
	return json.NewEncoder(c.out).Encode(map[string]any{"Parameter": p})
}

func (s *Sandbox) getParameters(c *call) error {
	var in struct{ Names []string }
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	out := struct {
		Parameters        []ssmParameter
		InvalidParameters []string
	}{Parameters: []ssmParameter{}, InvalidParameters: []string{}}
	s.mu.RLock()
	for _, n := range in.Names {
		if p, ok := s.parameter(n); ok {
			out.Parameters = append(out.Parameters, p)
		} else {
			out.InvalidParameters = append(out.InvalidParameters, n)
		}
	}
	s.mu.RUnlock()
	return json.NewEncoder(c.out).Encode(out)
}
