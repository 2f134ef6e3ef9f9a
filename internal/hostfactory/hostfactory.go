// Package hostfactory plays IBM HostFactory's side of the provider
// contract: it writes tab-indented input files the way HostFactory does, runs
// the provider scripts with the HF_* environment, and parses their answers.
// The demo, the end-to-end tests and the benchmark drive ohfp through it.
package hostfactory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

// Host is one simulated HostFactory with one provider instance.
type Host struct {
	ScriptDir string   // folder with the five scripts
	Env       []string // environment of every call (HF_* and AWS_* variables)
	WorkDir   string   // where input files are written
	Trace     io.Writer
	// Wrapper runs each script under this command, such as the benchmark's
	// /usr/bin/time.
	Wrapper []string
}

// Result is one script run.
type Result struct {
	Op       string
	Stdout   []byte
	Stderr   []byte
	Exit     int
	Duration time.Duration
	CPU      time.Duration // user plus system time of the process
}

// Raw is an input written verbatim, valid JSON or not.
type Raw string

// Call runs the script for op with input written as HostFactory writes it
// (tab-indented JSON), or verbatim when input is Raw.
func (h *Host) Call(ctx context.Context, op string, input any) (Result, error) {
	body, err := encodeInput(input)
	if err != nil {
		return Result{}, err
	}
	f, err := os.CreateTemp(h.WorkDir, "hf-"+op+"-*.json")
	if err != nil {
		return Result{}, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(body); err != nil {
		f.Close()
		return Result{}, err
	}
	if err := f.Close(); err != nil {
		return Result{}, err
	}
	args := append(slices.Clone(h.Wrapper), filepath.Join(h.ScriptDir, op+".sh"), "-f", f.Name())
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = h.Env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	res := Result{Op: op, Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Duration: time.Since(start)}
	if cmd.ProcessState != nil {
		res.Exit = cmd.ProcessState.ExitCode()
		res.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return res, fmt.Errorf("running %s: %w", op, err)
	}
	if h.Trace != nil {
		fmt.Fprintf(h.Trace, "$ %s.sh -f input.json   # input: %s\n%s\n", op, compact(body), indent(res.Stdout))
		if res.Exit != 0 {
			fmt.Fprintf(h.Trace, "(exit %d)\n", res.Exit)
		}
	}
	return res, nil
}

func encodeInput(input any) ([]byte, error) {
	if raw, ok := input.(Raw); ok {
		return []byte(raw), nil
	}
	return json.MarshalIndent(input, "", "\t")
}

// indent pretty-prints an answer for people; what the script printed is
// left as it was.
func indent(b []byte) string {
	var buf bytes.Buffer
	if json.Indent(&buf, bytes.TrimSpace(b), "", "  ") != nil {
		return string(b)
	}
	return buf.String()
}

func compact(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	return buf.String()
}

// callJSON runs op and decodes a successful answer into out.
func (h *Host) callJSON(ctx context.Context, op string, input, out any) error {
	res, err := h.Call(ctx, op, input)
	if err != nil {
		return err
	}
	if res.Exit != 0 {
		return &Failure{Result: res}
	}
	if err := Decode(res.Stdout, out); err != nil {
		return fmt.Errorf("%s answered %q: %w", op, res.Stdout, err)
	}
	return nil
}

// Failure is a script that exited non-zero.
type Failure struct{ Result Result }

func (f *Failure) Error() string {
	return fmt.Sprintf("%s exited %d: %s", f.Result.Op, f.Result.Exit, bytes.TrimSpace(f.Result.Stdout))
}

// Decode parses stdout as exactly one JSON document, as HostFactory does.
func Decode(stdout []byte, out any) error {
	dec := json.NewDecoder(bytes.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON document on standard output")
	}
	return nil
}
