package bedrock

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Auth is how one deployment authenticates to AWS. Empty fields fall back
// to the AWS SDK's default chain (environment, shared files and profiles,
// SSO, web identity, container and instance credentials).
type Auth struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Profile         string
	Region          string
}

// LoadAWS resolves a deployment's region and credentials provider. It does
// not fetch credentials: providers are lazy and cached, so startup needs no
// network and a request pays for a fetch only when credentials expire.
func LoadAWS(ctx context.Context, auth Auth) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if auth.Region != "" {
		opts = append(opts, awsconfig.WithRegion(auth.Region))
	}
	if auth.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(auth.Profile))
	}
	switch {
	case auth.AccessKeyID != "" || auth.SecretAccessKey != "":
		if auth.AccessKeyID == "" || auth.SecretAccessKey == "" {
			return aws.Config{}, fmt.Errorf("aws_access_key_id and aws_secret_access_key must be set together")
		}
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(auth.AccessKeyID, auth.SecretAccessKey, auth.SessionToken)))
	case auth.SessionToken != "":
		return aws.Config{}, fmt.Errorf("aws_session_token needs aws_access_key_id and aws_secret_access_key")
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("no AWS region: set aws_region_name, AWS_REGION or AWS_DEFAULT_REGION, or a region in the profile")
	}
	return cfg, nil
}
