package bedrock

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	unitSecret = "unit-secret-never-printed"
	unitToken  = "unit-session-token-never-printed"
	unitJWT    = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1bml0In0.c2lnbmF0dXJl"
)

// isolateAWSEnv keeps the machine's AWS settings out of a test.
func isolateAWSEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "AWS_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestAuthCheck(t *testing.T) {
	role := "arn:aws:iam::111122223333:role/bedrock"
	for _, tc := range []struct {
		name string
		auth Auth
		want string // "" means valid
	}{
		{"static", Auth{AccessKeyID: "AKIA", SecretAccessKey: unitSecret}, ""},
		{"role on default chain", Auth{RoleARN: role, SessionName: "s-1", ExternalID: "x"}, ""},
		{"web identity", Auth{RoleARN: role, WebIdentityToken: unitJWT}, ""},
		{"key without secret", Auth{AccessKeyID: "AKIA"}, "must be set together"},
		{"token without keys", Auth{SessionToken: unitToken}, "aws_session_token needs"},
		{"role name not an ARN", Auth{RoleARN: "bedrock"}, "must be a role ARN"},
		{"bad session name", Auth{RoleARN: role, SessionName: "has space"}, "aws_session_name"},
		{"external id without role", Auth{ExternalID: "x"}, "aws_external_id needs aws_role_name"},
		{"web identity without role", Auth{WebIdentityToken: unitJWT}, "aws_web_identity_token needs aws_role_name"},
		{"web identity with keys", Auth{RoleARN: role, WebIdentityToken: unitJWT, AccessKeyID: "AKIA", SecretAccessKey: unitSecret}, "credential of its own"},
		{"web identity with external id", Auth{RoleARN: role, WebIdentityToken: unitJWT, ExternalID: "x"}, "does not apply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.auth.check()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if err != nil && (strings.Contains(err.Error(), unitSecret) || strings.Contains(err.Error(), unitJWT)) {
				t.Errorf("the error shows a secret: %v", err)
			}
		})
	}
}

func TestAuthNeverPrintsSecrets(t *testing.T) {
	auths := []Auth{
		{AccessKeyID: "AKIA", SecretAccessKey: unitSecret, SessionToken: unitToken, RoleARN: "arn:aws:iam::111122223333:role/r", ExternalID: "ext"},
		{RoleARN: "arn:aws:iam::111122223333:role/r", WebIdentityToken: unitJWT},
	}
	for _, a := range auths {
		var logs bytes.Buffer
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "auth", a)
		out := fmt.Sprintf("%v %+v %#v %s", a, a, a, a) + logs.String()
		for _, secret := range []string{unitSecret, unitToken, unitJWT} {
			if strings.Contains(out, secret) {
				t.Errorf("printed a secret: %s", out)
			}
		}
		if !strings.Contains(out, "arn:aws:iam::111122223333:role/r") {
			t.Errorf("the description lacks the role: %s", out)
		}
	}
	tok := inlineToken(unitJWT)
	if out := fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok); strings.Contains(out, unitJWT) {
		t.Errorf("printed the token: %s", out)
	}
}

func TestWebIdentityTokenSource(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(unitJWT+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := webIdentityTokenSource(file)
	if _, isFile := src.(tokenFile); err != nil || !isFile {
		t.Fatalf("a token file: %T, %v", src, err)
	}
	if got, _ := src.GetIdentityToken(); string(got) != unitJWT {
		t.Errorf("read %q", got)
	}

	src, err = webIdentityTokenSource(unitJWT)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := src.GetIdentityToken(); string(got) != unitJWT {
		t.Errorf("inline token read as %q", got)
	}

	missing := filepath.Join(t.TempDir(), "no-such-token")
	if _, err := webIdentityTokenSource(missing); err == nil || strings.Contains(err.Error(), missing) {
		t.Errorf("a missing file: %v (the value must not be quoted: it may be a token)", err)
	}
}

// Model entries with one identity share one provider, so one cache and one
// renewal; a role's base credentials are shared too.
func TestCredentialStoreSharesIdentities(t *testing.T) {
	isolateAWSEnv(t)
	store := NewCredentialStore(slog.New(slog.DiscardHandler))
	ctx := context.Background()
	static := Auth{AccessKeyID: "AKIASHARED", SecretAccessKey: unitSecret, Region: "us-west-2"}
	roleA := static
	roleA.RoleARN, roleA.SessionName = "arn:aws:iam::111122223333:role/a", "one"
	roleB := roleA
	roleB.RoleARN = "arn:aws:iam::111122223333:role/b"

	load := func(entry string, a Auth) *refreshingCredentials {
		t.Helper()
		cfg, err := store.Load(ctx, entry, a)
		if err != nil {
			t.Fatalf("%s: %v", entry, err)
		}
		if cfg.Region != "us-west-2" {
			t.Errorf("%s: region %q", entry, cfg.Region)
		}
		return cfg.Credentials.(*refreshingCredentials)
	}
	a1, a2 := load("a#1", roleA), load("a#2", roleA)
	b := load("b#1", roleB)
	s := load("static#1", static)
	if a1 != a2 {
		t.Error("two entries assuming the same role got separate providers")
	}
	if a1 == b || a1 == s {
		t.Error("different identities share a provider")
	}
	if len(store.providers) != 3 {
		t.Errorf("%d providers, want 3: role a, role b and their shared static base", len(store.providers))
	}
	if got := a1.usersList(); got != "a#1,a#2" {
		t.Errorf("users %q", got)
	}
}

func TestCredentialStoreStartupErrors(t *testing.T) {
	isolateAWSEnv(t)
	store := NewCredentialStore(slog.New(slog.DiscardHandler))
	ctx := context.Background()
	if _, err := store.Load(ctx, "m#1", Auth{AccessKeyID: "AKIA", SecretAccessKey: unitSecret}); err == nil || !strings.Contains(err.Error(), "no AWS region") {
		t.Errorf("no region: %v", err)
	}
	if _, err := store.Load(ctx, "m#1", Auth{Profile: "nope", Region: "us-east-1"}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown profile: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "token")
	_, err := store.Load(ctx, "m#1", Auth{RoleARN: "arn:aws:iam::111122223333:role/r", WebIdentityToken: missing, Region: "us-east-1"})
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing token file: %v", err)
	}
}

func TestCredentialStoreWarnsAboutRoleKeysWithoutRole(t *testing.T) {
	isolateAWSEnv(t)
	var logs bytes.Buffer
	store := NewCredentialStore(slog.New(slog.NewTextHandler(&logs, nil)))
	_, err := store.Load(context.Background(), "m#1", Auth{
		AccessKeyID: "AKIA", SecretAccessKey: unitSecret, Region: "us-east-1",
		SessionName: "orphan", STSEndpoint: "https://sts.example",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"aws_session_name", "aws_sts_endpoint"} {
		if !strings.Contains(logs.String(), key+" is ignored without aws_role_name") {
			t.Errorf("no warning about %s:\n%s", key, logs.String())
		}
	}
}
