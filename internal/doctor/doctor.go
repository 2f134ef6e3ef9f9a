// Package doctor checks a provider instance before HostFactory needs it:
// its configuration, log folder and state store, its AWS credentials, the
// permissions its templates need, and the AWS resources they name. Each
// check ends as one line with a hint, so that an administrator knows
// before the first burst whether AWS will say no.
package doctor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/ohfp/ohfp/internal/access"
	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/store/dynamo"
)

// Status is how a check ended.
type Status string

// Statuses. Only Fail makes a report fail; Warn and Skip say what a
// person should look at or could not be checked from here.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Warn Status = "warn"
	Skip Status = "skip"
)

// Check is one line of the report.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail,omitempty"`
	Hint   string `json:"hint,omitempty"`
}

// Report is every check, in the order they ran.
type Report struct {
	OK     bool    `json:"ok"`
	Checks []Check `json:"checks"`
}

func (r *Report) add(c Check) {
	r.Checks = append(r.Checks, c)
	if c.Status == Fail {
		r.OK = false
	}
}

// WriteText writes one line per check: status, name, detail and hint.
func (r Report) WriteText(w io.Writer) error {
	for _, c := range r.Checks {
		line := fmt.Sprintf("%-4s  %s", strings.ToUpper(string(c.Status)), c.Name)
		if c.Detail != "" {
			line += ": " + c.Detail
		}
		if c.Hint != "" {
			line += " (hint: " + c.Hint + ")"
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	verdict := "all checks passed"
	if !r.OK {
		verdict = "some checks failed"
	}
	_, err := fmt.Fprintln(w, verdict)
	return err
}

// Run checks the provider instance that env (such as os.Getenv) describes.
func Run(ctx context.Context, env func(string) string) Report {
	r := Report{OK: true}
	cfg, err := config.Load(env)
	if err != nil {
		r.add(Check{Name: "config and templates load", Status: Fail, Detail: err.Error(),
			Hint: "fix the named file and field; HostFactory gets this same CONFIGURATION_ERROR"})
		return r
	}
	r.add(Check{Name: "config and templates load", Status: Pass,
		Detail: fmt.Sprintf("%s, %s: %d templates", cfg.ConfigFile, orNone(cfg.TemplatesFile), len(cfg.Templates))})
	for _, rj := range cfg.Rejected {
		r.add(Check{Name: "template " + cmp.Or(rj.ID, "without an id") + " follows AWS's rules", Status: Fail, Detail: rj.Err.Message,
			Hint: "fix the named field; until then this template is left out and the others are served"})
	}
	if len(cfg.Ignored) > 0 {
		r.add(Check{Name: "settings ohfp does not use", Status: Warn, Detail: strings.Join(cfg.Ignored, "; "),
			Hint: "remove them or check their spelling"})
	}
	for _, c := range policies(cfg) {
		r.add(c)
	}
	r.add(accessRules(cfg))
	r.add(logFolder(cfg))
	r.add(storeOpens(ctx, cfg))
	if cfg.Storage.Type == "dynamodb" {
		r.add(dynamoTables(ctx, cfg))
	}
	checkAWS(ctx, cfg, &r)
	return r
}

// policies lists each admission policy and what it matches: loading
// already refused a file with a mistake, so each line is information.
func policies(cfg *config.Config) []Check {
	if len(cfg.Policies) == 0 {
		detail := "none: no limit beyond each template's maxNumber"
		if cfg.LSF() {
			detail = "none: LSF applies its own policy_config.json (docs/policies.md)"
		}
		return []Check{{Name: "admission policies", Status: Pass, Detail: detail}}
	}
	out := []Check{{Name: "admission policies", Status: Pass, Detail: fmt.Sprintf("%d from %s", len(cfg.Policies), cfg.PoliciesFile)}}
	for _, p := range cfg.Policies {
		c := Check{Name: "policy " + p.Name, Status: Pass}
		var limits []string
		if p.MaxNumber >= 0 {
			limits = append(limits, fmt.Sprintf("MaxNumber %d", p.MaxNumber))
		}
		if p.MaxVCPUs >= 0 {
			limits = append(limits, fmt.Sprintf("MaxVCPUs %d", p.MaxVCPUs))
		}
		if !p.Step.IsZero() {
			limits = append(limits, "StepValue "+p.Step.String())
		}
		switch {
		case !p.Concerns(cfg.ProviderName):
			c.Detail = "for other providers, not " + cfg.ProviderName
		case len(limits) == 0:
			c.Status, c.Detail, c.Hint = Warn, "sets no limit", "give it MaxNumber, MaxVCPUs or StepValue, or remove it"
		default:
			c.Detail = strings.Join(limits, ", ") + " over templates " + strings.Join(p.Templates(cfg.TemplateIDs()), ", ")
		}
		out = append(out, c)
	}
	return out
}

// accessRules says who the access file lets do what, and warns when it
// would refuse HostFactory's scripts: a service user that cannot be known,
// or one narrowed below what HostFactory does (poll, request and return
// machines of every template).
func accessRules(cfg *config.Config) Check {
	c := Check{Name: "access rules", Status: Pass}
	rules, ok, err := access.ReadRulesFor(cfg.AccessFile, cfg.ConfigFile)
	switch {
	case err != nil:
		c.Status, c.Detail = Fail, err.Error()
		return c
	case !ok:
		c.Detail = "none (no " + cfg.AccessFile + "): every user may do everything"
		return c
	}
	c.Detail = fmt.Sprintf("%d rules from %s", len(rules.Rules), cfg.AccessFile)
	p, from := rules.Service()
	if p.Name == "" {
		c.Status, c.Hint = Warn, "name the user HostFactory runs the scripts as with service_user in the access file"
		c.Detail += "; HostFactory's service user cannot be known (" + from + "): the five scripts are refused unless a rule names the user they run as"
		return c
	}
	who := fmt.Sprintf("HostFactory's service user %s (%s)", p.Name, from)
	if p.Allow(access.Follow) != nil {
		c.Status, c.Hint = Warn, "give it the operator role with its templates, or leave it out of the rules"
		c.Detail += fmt.Sprintf("; %s is a %s: HostFactory's getRequestStatus, requestMachines and requestReturnMachines are refused", who, cmp.Or(string(p.Role), "user without a role"))
		return c
	}
	var refused []string
	for _, id := range cfg.TemplateIDs() {
		if p.Allow(access.Request, id) != nil {
			refused = append(refused, id)
		}
	}
	if len(refused) > 0 {
		c.Status, c.Hint = Warn, "grant the service user every template HostFactory asks for, or remove those templates"
		c.Detail += fmt.Sprintf("; %s may not request or return machines of template %s", who, strings.Join(refused, ", "))
		return c
	}
	if p.Role == access.Admin {
		c.Detail += "; " + who + " keeps every right"
	} else {
		c.Detail += "; " + who + " is an operator of every template"
	}
	return c
}

func orNone(file string) string {
	if file == "" {
		return "no templates file"
	}
	return file
}

// logFolder checks that the log file's folder takes a new file.
func logFolder(cfg *config.Config) Check {
	c := Check{Name: "log folder is writable"}
	dir := filepath.Dir(cfg.Logging.FilePath)
	err := os.MkdirAll(dir, 0o750)
	if err == nil {
		var f *os.File
		if f, err = os.CreateTemp(dir, ".ohfp-doctor-*"); err == nil {
			f.Close()
			err = os.Remove(f.Name())
		}
	}
	if err != nil {
		c.Status, c.Detail = Fail, err.Error()
		c.Hint = "HostFactory's user must be able to write " + dir + " (HF_PROVIDER_LOGDIR)"
		return c
	}
	c.Status, c.Detail = Pass, dir
	return c
}

// dynamoTables describes every DynamoDB table and checks its keys,
// indexes, TTL and, with backup_enabled, point-in-time recovery: opening a
// DynamoDB store touches nothing, so this is what proves it is there.
func dynamoTables(ctx context.Context, cfg *config.Config) Check {
	c := Check{Name: "DynamoDB tables, indexes and TTL are as ohfp needs them"}
	o, err := app.DynamoOptions(ctx, cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		var report []string
		report, err = dynamo.Init(ctx, o, false)
		c.Detail = strings.Join(report, "; ")
	}
	if err != nil {
		c.Status = Fail
		c.Detail = strings.TrimPrefix(c.Detail+"; "+err.Error(), "; ")
		switch {
		case fault.CodeOf(err) != fault.Configuration:
			c.Hint = "the endpoint did not answer as DynamoDB: check storage.dynamodb.endpoint_url, region and credentials"
		case errors.Is(err, dynamo.ErrMissing) && cfg.Storage.DynamoDB.AutoCreate:
			c.Status = Warn
			c.Hint = "the first operation creates them (storage.dynamodb.auto_create) if its credentials may; or run `" + app.StoreInitCommand(cfg) + "`"
		default:
			c.Hint = "run `" + app.StoreInitCommand(cfg) + "` where CreateTable is allowed"
		}
		return c
	}
	c.Status = Pass
	return c
}

// storeOpens opens the state store, which migrates its schema to the
// current version or refuses one written by a newer ohfp.
func storeOpens(ctx context.Context, cfg *config.Config) Check {
	c := Check{Name: "state store opens with the current schema"}
	st, err := app.OpenStore(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		c.Status, c.Detail = Fail, err.Error()
		c.Hint = "check the storage settings and that HostFactory's user can write the work folder (HF_PROVIDER_WORKDIR)"
		return c
	}
	st.Close()
	c.Status = Pass
	c.Detail = app.StoreName(cfg)
	return c
}
