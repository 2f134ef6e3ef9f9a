package doctor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
)

// iamQuery calls IAM's SimulatePrincipalPolicy over IAM's Query protocol,
// signed with SigV4, instead of through aws-sdk-go-v2/service/iam: linking
// that package costs every ohfp process, so every HostFactory script call,
// about 1.1 MB of peak RSS and 3 ms of start (26.1 -> 27.2 MB, 27 -> 30 ms
// for `ohfp --version`, measured on the 2-core machine, 2026-12-01), for
// one call that only doctor makes.
type iamQuery struct {
	cfg      awssdk.Config
	endpoint string // IAM's, or the configured endpoint (the sandbox)
	region   string // the signing region
	client   *http.Client
}

// newIAMQuery reaches IAM's global endpoint of the partition of region,
// or endpoint when the configuration names one.
func newIAMQuery(cfg awssdk.Config, endpoint string) iamQuery {
	q := iamQuery{cfg: cfg, endpoint: "https://iam.amazonaws.com", region: "us-east-1", client: &http.Client{Timeout: 30 * time.Second}}
	switch {
	case strings.HasPrefix(cfg.Region, "cn-"):
		q.endpoint, q.region = "https://iam.cn-north-1.amazonaws.com.cn", "cn-north-1"
	case strings.HasPrefix(cfg.Region, "us-gov-"):
		q.endpoint, q.region = "https://iam.us-gov.amazonaws.com", "us-gov-west-1"
	}
	if endpoint != "" {
		q.endpoint = endpoint
	}
	return q
}

// simulate returns the actions that the policies of principal do not allow
// on resources, with context, each with its decision.
func (q iamQuery) simulate(ctx context.Context, principal string, actions, resources []string, context map[string]string) ([]string, error) {
	form := url.Values{"Action": {"SimulatePrincipalPolicy"}, "Version": {"2010-05-08"}, "PolicySourceArn": {principal}}
	for i, a := range actions {
		form.Set("ActionNames.member."+strconv.Itoa(i+1), a)
	}
	for i, r := range resources {
		form.Set("ResourceArns.member."+strconv.Itoa(i+1), r)
	}
	i := 0
	for k, v := range context {
		i++
		p := "ContextEntries.member." + strconv.Itoa(i) + "."
		form.Set(p+"ContextKeyName", k)
		form.Set(p+"ContextKeyType", "string")
		form.Set(p+"ContextKeyValues.member.1", v)
	}
	var refused []string
	for {
		var page struct {
			Result struct {
				Results []struct {
					EvalActionName string
					EvalDecision   string
				} `xml:"EvaluationResults>member"`
				IsTruncated bool
				Marker      string
			} `xml:"SimulatePrincipalPolicyResult"`
		}
		if err := q.call(ctx, form, &page); err != nil {
			return nil, err
		}
		for _, r := range page.Result.Results {
			if r.EvalDecision != "allowed" {
				refused = append(refused, r.EvalActionName+" ("+r.EvalDecision+")")
			}
		}
		if !page.Result.IsTruncated {
			return refused, nil
		}
		form.Set("Marker", page.Result.Marker)
	}
}

// call posts one signed Query request and decodes its answer into out, or
// IAM's error document into a smithy.APIError.
func (q iamQuery) call(ctx context.Context, form url.Values, out any) error {
	body := form.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, q.endpoint, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if q.cfg.Credentials == nil {
		return fmt.Errorf("no AWS credentials")
	}
	creds, err := q.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "iam", q.region, time.Now()); err != nil {
		return err
	}
	res, err := q.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string }
		}
		if xml.Unmarshal(raw, &e) == nil && e.Error.Code != "" {
			return &smithy.GenericAPIError{Code: e.Error.Code, Message: e.Error.Message}
		}
		return fmt.Errorf("%s: HTTP %d: %.200s", q.endpoint, res.StatusCode, raw)
	}
	return xml.Unmarshal(raw, out)
}
