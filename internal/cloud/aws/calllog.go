package aws

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// logCalls writes one "aws call" line per attempt of an AWS API call: the
// API, the outcome (ok or the AWS error code), AWS's request id and the
// duration. It sits after the SDK's retry middleware, so each retry and
// each throttled attempt has its own line: metrics count AWS calls by API
// and code from these lines, throttling included, and an operator matches
// a failure with AWS support through the request id.
func logCalls(log *slog.Logger) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("ohfpCallLog",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				start := time.Now()
				out, md, err := next.HandleFinalize(ctx, in)
				api := strings.ToLower(awsmiddleware.GetServiceID(ctx)) + ":" + awsmiddleware.GetOperationName(ctx)
				code, level := "ok", slog.LevelInfo
				var ae smithy.APIError
				switch {
				case errors.As(err, &ae):
					code, level = ae.ErrorCode(), slog.LevelWarn
				case err != nil:
					code, level = "error", slog.LevelWarn
				}
				requestID, _ := awsmiddleware.GetRequestIDMetadata(md)
				log.LogAttrs(ctx, level, "aws call", slog.String("api", api), slog.String("code", code),
					slog.String("aws_request_id", requestID), slog.Int64("duration_ms", time.Since(start).Milliseconds()))
				return out, md, err
			}), "Retry", middleware.After)
	}
}
