package doctor

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/ohfp/ohfp/internal/cloud"
	awscloud "github.com/ohfp/ohfp/internal/cloud/aws"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/installation"
)

// ownership checks the installation id, and whether live instances with
// this provider name belong to another installation or to none yet.
func ownership(ctx context.Context, cfg *config.Config) Check {
	c := Check{Name: "instances with this provider name are this installation's"}
	id, ok, err := installation.Read(cfg.ConfDir)
	switch {
	case err != nil:
		c.Status, c.Detail = Fail, err.Error()
		c.Hint = "restore the file from a backup of the conf folder"
		return c
	case !ok:
		c.Status, c.Detail = Warn, "no installation id yet in "+installation.Path(cfg.ConfDir)
		c.Hint = "it is made on first use; `ohfp init` makes it at once, and HostFactory's user must be able to write the conf folder then"
		return c
	}
	p, err := awscloud.New(ctx, cfg.AWS, slog.New(slog.DiscardHandler), nil)
	if err == nil {
		var insts []cloud.Instance
		if insts, err = p.Instances(ctx, cloud.Query{Provider: cfg.ProviderName}); err == nil {
			return judgeOwners(c, cfg.ProviderName, id, insts)
		}
	}
	c.Status, c.Detail = Warn, "cannot list the instances tagged "+cloud.TagProvider+"="+cfg.ProviderName+": "+errText(err)
	c.Hint = policyHint
	return c
}

// judgeOwners sorts the live instances tagged with the provider name by
// owner.
func judgeOwners(c Check, provider, id string, insts []cloud.Instance) Check {
	var others []string
	mine, unknown := 0, 0
	for _, in := range insts {
		switch in.OwnerFor(id) {
		case cloud.OwnedHere:
			mine++
		case cloud.OwnerUnknown:
			unknown++
		case cloud.OwnedElsewhere:
			if other := in.Tags[cloud.TagInstallation]; !slices.Contains(others, other) {
				others = append(others, other)
			}
		}
	}
	c.Status = Pass
	c.Detail = fmt.Sprintf("installation %s: %d live instances", id, mine)
	var notes []string
	if len(others) > 0 {
		c.Status = Warn
		notes = append(notes, fmt.Sprintf("%s (installation %s); ohfp never touches their instances", cloud.SharedNameWarning(provider), strings.Join(others, ", ")))
		c.Hint = "give each installation its own provider name (HF_PROVIDER_NAME) to tell them apart in the console"
	}
	if unknown > 0 {
		c.Status = Warn
		notes = append(notes, fmt.Sprintf("%d live instances carry no installation id (launched before ids existed); ohfp leaves them alone", unknown))
		c.Hint = strings.TrimPrefix(c.Hint+"; ", "; ") + "claim those this store launched once with `ohfp reconcile --adopt-untagged` (see docs/operations.md)"
	}
	if len(notes) > 0 {
		c.Detail += "; " + strings.Join(notes, "; ")
	}
	return c
}
