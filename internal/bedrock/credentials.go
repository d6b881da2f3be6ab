package bedrock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Auth is how one deployment authenticates to AWS: the auth keys of its
// litellm_params. Empty fields fall back to the AWS SDK's default chain
// (environment, shared files and AWS_PROFILE, SSO, web identity, container
// and instance credentials). Its String never shows a secret.
type Auth struct {
	AccessKeyID     string // aws_access_key_id
	SecretAccessKey string // aws_secret_access_key
	SessionToken    string // aws_session_token
	Profile         string // aws_profile_name
	Region          string // aws_region_name
	// RoleARN (aws_role_name) is assumed with STS on top of the credentials
	// above, or with a web identity token.
	RoleARN     string
	SessionName string // aws_session_name
	ExternalID  string // aws_external_id
	// WebIdentityToken (aws_web_identity_token) is the token itself, or the
	// path of a file holding it; the file is read at every renewal, so a
	// rotated token (a Kubernetes projected volume) is picked up.
	WebIdentityToken string
	STSEndpoint      string // aws_sts_endpoint: STS endpoint override for RoleARN
	// APIKey (api_key, or AWS_BEARER_TOKEN_BEDROCK) is a Bedrock API key:
	// calls carry it as a bearer token and no AWS credentials are used.
	APIKey string
}

// BearerTokenEnv is the environment variable the AWS SDKs read a Bedrock
// API key from.
const BearerTokenEnv = "AWS_BEARER_TOKEN_BEDROCK"

// WithAPIKeyFromEnv decides, once, whether a model entry calls Bedrock with
// an API key: its own api_key wins; else, when the entry names no AWS
// credentials of its own (keys, profile, role, web identity), the key in
// AWS_BEARER_TOKEN_BEDROCK is used, as the AWS SDKs prefer it to their
// default chain. source says where the key came from ("" for none).
func (a Auth) WithAPIKeyFromEnv(getenv func(string) string) (_ Auth, source string) {
	if a.APIKey != "" {
		return a, "api_key"
	}
	if a.AccessKeyID != "" || a.SecretAccessKey != "" || a.Profile != "" || a.RoleARN != "" || a.WebIdentityToken != "" {
		return a, ""
	}
	if key := strings.TrimSpace(getenv(BearerTokenEnv)); key != "" {
		a.APIKey = key
		return a, BearerTokenEnv
	}
	return a, ""
}

// defaultSessionName names role sessions when aws_session_name is not set,
// so CloudTrail shows who assumed the role.
const defaultSessionName = "strata"

var (
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	roleARNPattern     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/\S+$`)
)

// String describes the identity for logs and errors, without secrets.
func (a Auth) String() string {
	if a.APIKey != "" {
		return "a Bedrock API key"
	}
	var base string
	switch {
	case a.AccessKeyID != "" && a.SessionToken != "":
		base = "static keys with a session token"
	case a.AccessKeyID != "":
		base = "static keys"
	case a.Profile != "":
		base = fmt.Sprintf("profile %q", a.Profile)
	default:
		base = "the default credential chain"
	}
	switch {
	case a.WebIdentityToken != "":
		return fmt.Sprintf("role %s (session %q) via web identity token", a.RoleARN, a.sessionName())
	case a.RoleARN != "":
		ext := ""
		if a.ExternalID != "" {
			ext = " with an external id"
		}
		return fmt.Sprintf("role %s (session %q%s) assumed with %s", a.RoleARN, a.sessionName(), ext, base)
	}
	return base
}

// GoString keeps %#v from printing the secrets.
func (a Auth) GoString() string { return "bedrock.Auth{" + a.String() + "}" }

// LogValue keeps slog from printing the secrets.
func (a Auth) LogValue() slog.Value { return slog.StringValue(a.String()) }

func (a Auth) sessionName() string {
	if a.SessionName != "" {
		return a.SessionName
	}
	return defaultSessionName
}

// base is the identity a role is assumed with.
func (a Auth) base() Auth {
	a.RoleARN, a.SessionName, a.ExternalID, a.WebIdentityToken, a.STSEndpoint = "", "", "", "", ""
	return a
}

// check reports every combination of auth keys that cannot work, named as
// in the config file.
func (a Auth) check() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if (a.AccessKeyID == "") != (a.SecretAccessKey == "") {
		add("aws_access_key_id and aws_secret_access_key must be set together")
	}
	if a.SessionToken != "" && a.AccessKeyID == "" {
		add("aws_session_token needs aws_access_key_id and aws_secret_access_key")
	}
	if a.RoleARN != "" && !roleARNPattern.MatchString(a.RoleARN) {
		add("aws_role_name must be a role ARN such as arn:aws:iam::123456789012:role/bedrock-caller, got %q", a.RoleARN)
	}
	if a.SessionName != "" && !sessionNamePattern.MatchString(a.SessionName) {
		add("aws_session_name %q must be 2 to 64 letters, digits or +=,.@_-", a.SessionName)
	}
	if a.ExternalID != "" && a.RoleARN == "" {
		add("aws_external_id needs aws_role_name: it is sent when assuming that role")
	}
	if a.WebIdentityToken != "" {
		if a.RoleARN == "" {
			add("aws_web_identity_token needs aws_role_name: the role to assume with the token")
		}
		if a.AccessKeyID != "" || a.Profile != "" {
			add("aws_web_identity_token is a credential of its own: remove aws_access_key_id or aws_profile_name beside it")
		}
		if a.ExternalID != "" {
			add("aws_external_id does not apply to aws_web_identity_token (AssumeRoleWithWebIdentity takes none)")
		}
	}
	return errors.Join(errs...)
}

// CredentialStore builds every deployment's credentials at startup and
// gives deployments with the same identity the same provider, so they share
// one cache and one renewal: N model entries behind one role make one STS
// call, not N. A role's base credentials are shared the same way.
type CredentialStore struct {
	log *slog.Logger
	now func() time.Time

	mu        sync.Mutex
	providers map[Auth]*refreshingCredentials
}

// NewCredentialStore returns an empty store that logs renewals and their
// failures to log.
func NewCredentialStore(log *slog.Logger) *CredentialStore {
	return &CredentialStore{log: log, now: time.Now, providers: make(map[Auth]*refreshingCredentials)}
}

// Load resolves the region and credentials provider of one model entry
// (named by entry in logs). It does not fetch credentials: providers are
// lazy, so startup needs no network, and the first request fetches them.
func (s *CredentialStore) Load(ctx context.Context, entry string, auth Auth) (aws.Config, error) {
	if err := auth.check(); err != nil {
		return aws.Config{}, err
	}
	if auth.APIKey != "" {
		return s.loadForAPIKey(ctx, entry, auth)
	}
	if auth.RoleARN == "" {
		for _, unused := range [][2]string{{"aws_session_name", auth.SessionName}, {"aws_sts_endpoint", auth.STSEndpoint}} {
			if unused[1] != "" {
				s.log.Warn(unused[0]+" is ignored without aws_role_name", "model", entry)
			}
		}
	}
	cfg, err := loadSDKConfig(ctx, auth)
	if err != nil {
		return aws.Config{}, err
	}
	// Entries that name the region and entries that inherit the same one
	// are the same identity.
	auth.Region = cfg.Region
	provider, err := s.provider(auth, cfg)
	if err != nil {
		return aws.Config{}, err
	}
	provider.addUser(entry)
	cfg.Credentials = provider
	s.log.Debug("AWS credentials configured", "model", entry, "identity", auth.String(), "region", cfg.Region)
	return cfg, nil
}

// loadForAPIKey resolves the region of an entry that calls Bedrock with an
// API key; AWS credentials beside the key are never used, and said so.
func (s *CredentialStore) loadForAPIKey(ctx context.Context, entry string, auth Auth) (aws.Config, error) {
	for _, unused := range [][2]string{
		{"aws_access_key_id", auth.AccessKeyID}, {"aws_session_token", auth.SessionToken},
		{"aws_profile_name", auth.Profile}, {"aws_role_name", auth.RoleARN},
		{"aws_web_identity_token", auth.WebIdentityToken},
	} {
		if unused[1] != "" {
			s.log.Warn(unused[0]+" is ignored: the entry calls Bedrock with its api_key", "model", entry)
		}
	}
	opts := []func(*awsconfig.LoadOptions) error{
		// No credentials are looked for: the key is the credential.
		awsconfig.WithCredentialsProvider(aws.AnonymousCredentials{}),
	}
	if auth.Region != "" {
		opts = append(opts, awsconfig.WithRegion(auth.Region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("no AWS region: set aws_region_name, AWS_REGION or AWS_DEFAULT_REGION (a Bedrock API key is valid in the region it was made in)")
	}
	cfg.Credentials = nil
	return cfg, nil
}

// loadSDKConfig resolves region and base credentials the way the AWS SDK
// and CLI do: static keys when given, else the profile (shared files, SSO,
// credential_process, a role in the profile), else the default chain.
func loadSDKConfig(ctx context.Context, auth Auth) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if auth.Region != "" {
		opts = append(opts, awsconfig.WithRegion(auth.Region))
	}
	if auth.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(auth.Profile))
	}
	if auth.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(auth.AccessKeyID, auth.SecretAccessKey, auth.SessionToken)))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("no AWS region: set aws_region_name, AWS_REGION or AWS_DEFAULT_REGION, or a region in the profile")
	}
	return cfg, nil
}

// provider returns the shared provider for auth, building it (and its
// base's) on first use.
func (s *CredentialStore) provider(auth Auth, cfg aws.Config) (*refreshingCredentials, error) {
	s.mu.Lock()
	p, ok := s.providers[auth]
	s.mu.Unlock()
	if ok {
		return p, nil
	}
	source, err := s.source(auth, cfg)
	if err != nil {
		return nil, err
	}
	p = newRefreshingCredentials(source, auth.String(), s.log, s.now)
	s.mu.Lock()
	defer s.mu.Unlock()
	if existing, ok := s.providers[auth]; ok {
		return existing, nil
	}
	s.providers[auth] = p
	return p, nil
}

// source is where auth's credentials come from, uncached: the SDK's
// provider, or an STS call.
func (s *CredentialStore) source(auth Auth, cfg aws.Config) (aws.CredentialsProvider, error) {
	switch {
	case auth.WebIdentityToken != "":
		token, err := webIdentityTokenSource(auth.WebIdentityToken)
		if err != nil {
			return nil, err
		}
		// AssumeRoleWithWebIdentity is unsigned: the token is the credential.
		client := stsClient(cfg, aws.AnonymousCredentials{}, auth.STSEndpoint)
		return stscreds.NewWebIdentityRoleProvider(client, auth.RoleARN, token, func(o *stscreds.WebIdentityRoleOptions) {
			o.RoleSessionName = auth.sessionName()
		}), nil
	case auth.RoleARN != "":
		base, err := s.provider(auth.base(), cfg)
		if err != nil {
			return nil, err
		}
		client := stsClient(cfg, base, auth.STSEndpoint)
		return stscreds.NewAssumeRoleProvider(client, auth.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = auth.sessionName()
			// STS's own default, rather than the SDK's 15 minutes: fewer renewals.
			o.Duration = time.Hour
			if auth.ExternalID != "" {
				o.ExternalID = aws.String(auth.ExternalID)
			}
		}), nil
	}
	if cfg.Credentials == nil {
		return nil, errors.New("the AWS SDK found no credentials provider")
	}
	return cfg.Credentials, nil
}

// stsClient calls STS in the model's region, signed with creds.
func stsClient(cfg aws.Config, creds aws.CredentialsProvider, endpoint string) *sts.Client {
	return sts.NewFromConfig(cfg, func(o *sts.Options) {
		o.Credentials = creds
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}

// webIdentityTokenSource reads aws_web_identity_token: a path to an existing
// file is read at every renewal; anything else is the token. A value with a
// path separator that names no file is an error rather than a token sent to
// STS: JWTs are base64url and never contain one. Nothing here quotes the
// value, which may be the token.
func webIdentityTokenSource(value string) (stscreds.IdentityTokenRetriever, error) {
	if info, err := os.Stat(value); err == nil && info.Mode().IsRegular() {
		return tokenFile(value), nil
	}
	if strings.ContainsAny(value, `/\`) {
		return nil, errors.New("aws_web_identity_token looks like a file path, but no such file exists")
	}
	return inlineToken(value), nil
}

// tokenFile is a web identity token file, read at every renewal. Unlike
// stscreds.IdentityTokenFile it trims surrounding whitespace: a token saved
// with `echo` ends in a newline that STS would reject as a malformed token.
type tokenFile string

func (f tokenFile) GetIdentityToken() ([]byte, error) {
	b, err := os.ReadFile(string(f))
	if err != nil {
		return nil, fmt.Errorf("read aws_web_identity_token file: %w", err)
	}
	return bytes.TrimSpace(b), nil
}

// inlineToken is a web identity token given in the config itself.
type inlineToken string

func (t inlineToken) GetIdentityToken() ([]byte, error) { return []byte(t), nil }

// String keeps the token out of anything that prints the retriever.
func (t inlineToken) String() string   { return "[web identity token]" }
func (t inlineToken) GoString() string { return "[web identity token]" }
