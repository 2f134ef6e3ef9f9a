package aws

import (
	"cmp"
	"context"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
)

// SDKConfig is the aws-sdk-go-v2 configuration of a provider instance: its
// region, profile, credential file, retries, connect timeout and proxy. It
// makes no AWS call; credentials resolve on first use. Clients built from
// it must set their BaseEndpoint from Endpoint(cfg) themselves, so that the
// STS calls of assume-role profiles keep reaching AWS.
func SDKConfig(ctx context.Context, cfg config.AWS) (awssdk.Config, error) {
	httpClient, err := newHTTPClient(cfg)
	if err != nil {
		return awssdk.Config{}, err
	}
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithHTTPClient(httpClient),
		// IBM's AWS_REQUEST_RETRY_ATTEMPTS counts retries, the SDK counts attempts.
		awsconfig.WithRetryMaxAttempts(cfg.RetryAttempts + 1),
		// Adaptive mode adds a client-side token bucket that slows down as
		// AWS answers RequestLimitExceeded, like EC2's own request buckets.
		awsconfig.WithRetryMode(awssdk.RetryModeAdaptive),
	}
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	switch {
	case cfg.CredentialScript != "":
		// IBM's Java LSF plugin: the script wins over a credentials file.
		opts = append(opts, awsconfig.WithCredentialsProvider(awssdk.NewCredentialsCache(scriptCredentials{
			script: cfg.CredentialScript, cache: cfg.CredentialCache, margin: cfg.CredentialRenewMargin, now: time.Now,
		})))
	case cfg.CredentialFile != "":
		// The file's profile is named explicitly: the SDK then takes it
		// over AWS_ACCESS_KEY_ID and the other environment credentials,
		// as AWS_CREDENTIAL_FILE promises.
		profile, err := credentialProfile(ctx, cfg)
		if err != nil {
			return awssdk.Config{}, err
		}
		opts = append(opts, awsconfig.WithSharedConfigProfile(profile),
			awsconfig.WithSharedCredentialsFiles([]string{cfg.CredentialFile}))
	case cfg.Profile != "" && cfg.Profile != defaultProfile:
		opts = append(opts, awsconfig.WithSharedConfigProfile(cfg.Profile))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return awssdk.Config{}, fault.Wrap(fault.Configuration, err, "load AWS configuration")
	}
	if awsCfg.Region == "" {
		return awssdk.Config{}, fault.New(fault.Configuration, "no AWS region: set AWS_REGION in the provider config")
	}
	awsCfg.HTTPClient = bodyGuard{awsCfg.HTTPClient}
	return awsCfg, nil
}

// defaultProfile is the profile the SDK reads anyway. Named explicitly,
// the SDK would fail on a host without shared config files (an instance
// role's) where the OHFP integration guide's "profile: default" must work.
const defaultProfile = "default"

// Endpoint is the endpoint override of the config, nil when there is none
// (the SDK then honours AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>).
func Endpoint(cfg config.AWS) *string { return optional(cfg.EndpointURL) }

// credentialProfile is the profile of AWS_CREDENTIAL_FILE to use (the
// config's profile, else default), checked to give credentials: without
// any, the SDK would fall through to the instance role, which is not what
// the file asks for.
func credentialProfile(ctx context.Context, cfg config.AWS) (string, error) {
	profile := cmp.Or(cfg.Profile, "default")
	sc, err := awsconfig.LoadSharedConfigProfile(ctx, profile, func(o *awsconfig.LoadSharedConfigOptions) {
		o.CredentialsFiles = []string{cfg.CredentialFile}
	})
	if err != nil {
		return "", fault.Wrap(fault.Configuration, err, "AWS_CREDENTIAL_FILE %s: profile %s", cfg.CredentialFile, profile)
	}
	if !sc.Credentials.HasKeys() && sc.RoleARN == "" && sc.CredentialProcess == "" && sc.WebIdentityTokenFile == "" &&
		sc.SSOSessionName == "" && sc.SSOStartURL == "" {
		return "", fault.New(fault.Configuration,
			"AWS_CREDENTIAL_FILE %s: profile %s gives no credentials (aws_access_key_id and aws_secret_access_key, role_arn, credential_process or sso_session)",
			cfg.CredentialFile, profile)
	}
	return profile, nil
}
