package aws

import (
	"context"

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
	if cfg.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(cfg.Profile))
	}
	if cfg.CredentialFile != "" {
		opts = append(opts, awsconfig.WithSharedCredentialsFiles([]string{cfg.CredentialFile}))
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

// Endpoint is the endpoint override of the config, nil when there is none
// (the SDK then honours AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>).
func Endpoint(cfg config.AWS) *string { return optional(cfg.EndpointURL) }
