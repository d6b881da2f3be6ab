package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/strata-gateway/strata/internal/emulator"
)

// Every AWS auth mode of litellm_params, through the strata binary, with the
// emulator as both Bedrock and STS (aws_sts_endpoint points at it). Each
// test also greps everything the gateway printed for the secrets it used.

const (
	authModel   = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	roleARN     = "arn:aws:iam::111122223333:role/bedrock-caller"
	otherRole   = "arn:aws:iam::444455556666:role/bedrock-cross-account"
	goodToken   = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJzdHMuYW1hem9uYXdzLmNvbSIsInN1YiI6InN0cmF0YS1lMmUifQ.ZTJlLXNpZ25hdHVyZQ"
	strangerJWT = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJzb21lb25lLWVsc2UiLCJzdWIiOiJzdHJhdGEtZTJlIn0.b3RoZXItc2lnbmF0dXJl"
	tempKey     = "ASIASTRATATESTTEMP01"
	tempSecret  = "t3mp-s3cr3t-strata-e2e-do-not-log"
	tempToken   = "FwoGZXIvYXdzEStrataE2eSessionTokenDoNotLog"
)

// authEmulator serves the emulator as Bedrock and STS. It knows the test key
// and a temporary key with a session token.
func authEmulator(t *testing.T, sts emulator.STSOptions) (*emulator.Emulator, string) {
	t.Helper()
	em := emulator.New(emulator.Options{
		Keys: map[string]emulator.Key{
			testAccessKey: {Secret: testSecretKey},
			tempKey:       {Secret: tempSecret, SessionToken: tempToken},
		},
		Region: testRegion,
		STS:    sts,
	})
	srv := httptest.NewServer(em)
	t.Cleanup(srv.Close)
	return em, srv.URL
}

// authConfig is one model entry "claude" whose litellm_params are the
// model, the runtime endpoint and params (YAML lines without indentation).
func authConfig(endpoint, params string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "model_list:\n  - model_name: claude\n    litellm_params:\n")
	fmt.Fprintf(&b, "      model: bedrock/%s\n      aws_bedrock_runtime_endpoint: %s\n", authModel, endpoint)
	for line := range strings.SplitSeq(strings.TrimSpace(params), "\n") {
		fmt.Fprintf(&b, "      %s\n", strings.TrimSpace(line))
	}
	return b.String()
}

// chat sends one chat request through the OpenAI SDK.
func chat(t *testing.T, g *gateway, model string) (*openai.ChatCompletion, error) {
	t.Helper()
	client := g.client()
	return client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello from auth")},
	})
}

func mustChat(t *testing.T, g *gateway) {
	t.Helper()
	resp, err := chat(t, g, "claude")
	if err != nil {
		t.Fatalf("chat: %v\n%s", err, g.logs)
	}
	if resp.Choices[0].Message.Content != "echo: hello from auth" {
		t.Errorf("answer %q", resp.Choices[0].Message.Content)
	}
}

// assertSigned checks that Bedrock accepted a call signed with key in the test region.
func assertSigned(t *testing.T, em *emulator.Emulator, key string) emulator.Call {
	t.Helper()
	call := lastCall(t, em)
	if call.Status != http.StatusOK || call.AccessKeyID != key || call.Region != testRegion {
		t.Errorf("Bedrock call signed by %q for %q answered %d (%s), want %q for %q", call.AccessKeyID, call.Region, call.Status, call.Error, key, testRegion)
	}
	return call
}

// assertNoSecrets stops the gateway and fails if anything it printed
// contains one of the secrets.
func assertNoSecrets(t *testing.T, g *gateway, secrets ...string) {
	t.Helper()
	g.stop(t)
	out := g.logs.String()
	for _, s := range append(secrets, testSecretKey, tempSecret, tempToken, goodToken, strangerJWT) {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("the gateway printed a secret (%.8s...)", s)
		}
	}
}

// issuedToken is the session token Bedrock saw on the last call: the one STS issued.
func issuedToken(t *testing.T, em *emulator.Emulator) string {
	t.Helper()
	return lastCall(t, em).Header.Get("X-Amz-Security-Token")
}

// logRecords parses the gateway's JSON log lines. Lines arrive through a
// pipe, so tests stop the gateway before reading what a request logged.
func logRecords(g *gateway) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(g.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) == nil {
			out = append(out, rec)
		}
	}
	return out
}

// findLog returns the first record whose msg is msg and whose text contains every part.
func findLog(g *gateway, msg string, parts ...string) map[string]any {
	for _, rec := range logRecords(g) {
		if rec["msg"] != msg {
			continue
		}
		raw, _ := json.Marshal(rec)
		found := true
		for _, p := range parts {
			found = found && strings.Contains(string(raw), p)
		}
		if found {
			return rec
		}
	}
	return nil
}

func writeFile(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// The seed's example: static keys from custom environment variable names.
func TestAuthStaticKeysFromCustomEnv(t *testing.T) {
	em, endpoint := authEmulator(t, emulator.STSOptions{})
	g := startGateway(t, authConfig(endpoint, `
		aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
		aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
		aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME`), seedEnv...)
	mustChat(t, g)
	assertSigned(t, em, testAccessKey)
	if n := len(em.STSCalls()); n != 0 {
		t.Errorf("static keys made %d STS calls", n)
	}
	assertNoSecrets(t, g)
}

func TestAuthSessionToken(t *testing.T) {
	em, endpoint := authEmulator(t, emulator.STSOptions{})
	g := startGateway(t, authConfig(endpoint, `
		aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
		aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
		aws_session_token: os.environ/CUSTOM_AWS_SESSION_TOKEN
		aws_region_name: `+testRegion),
		"CUSTOM_AWS_ACCESS_KEY_ID="+tempKey, "CUSTOM_AWS_SECRET_ACCESS_KEY="+tempSecret, "CUSTOM_AWS_SESSION_TOKEN="+tempToken)
	mustChat(t, g)
	if call := assertSigned(t, em, tempKey); call.Header.Get("X-Amz-Security-Token") != tempToken {
		t.Error("the session token did not reach Bedrock")
	}
	assertNoSecrets(t, g)
}

// sharedFiles writes an AWS credentials file and config file and returns
// the environment that points the SDK at them.
func sharedFiles(t *testing.T, credentials, config string) []string {
	t.Helper()
	return []string{
		"AWS_SHARED_CREDENTIALS_FILE=" + writeFile(t, "credentials", credentials, 0o600),
		"AWS_CONFIG_FILE=" + writeFile(t, "config", config, 0o600),
	}
}

// No auth keys in the config: AWS_PROFILE picks a profile from the shared
// files, region included.
func TestAuthAWSProfileEnv(t *testing.T) {
	em, endpoint := authEmulator(t, emulator.STSOptions{})
	env := sharedFiles(t, fmt.Sprintf(`
[default]
aws_access_key_id = AKIAWRONGDEFAULTKEY0
aws_secret_access_key = wrong
[dev]
aws_access_key_id = %s
aws_secret_access_key = %s
`, testAccessKey, testSecretKey), "[profile dev]\nregion = "+testRegion+"\n")
	g := startGateway(t, authConfig(endpoint, ""), append(env, "AWS_PROFILE=dev")...)
	mustChat(t, g)
	assertSigned(t, em, testAccessKey)
	assertNoSecrets(t, g)
}

func TestAuthProfileName(t *testing.T) {
	em, endpoint := authEmulator(t, emulator.STSOptions{})
	env := sharedFiles(t, fmt.Sprintf(`
[default]
aws_access_key_id = AKIAWRONGDEFAULTKEY0
aws_secret_access_key = wrong
[bedrock-team]
aws_access_key_id = %s
aws_secret_access_key = %s
aws_session_token = %s
`, tempKey, tempSecret, tempToken), "[default]\nregion = eu-west-1\n")
	g := startGateway(t, authConfig(endpoint, "aws_profile_name: bedrock-team\naws_region_name: "+testRegion), env...)
	mustChat(t, g)
	assertSigned(t, em, tempKey)
	assertNoSecrets(t, g)
}

// A credential_process profile: the SDK runs the command and reads its JSON.
func TestAuthCredentialProcess(t *testing.T) {
	em, endpoint := authEmulator(t, emulator.STSOptions{})
	expires := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	script := writeFile(t, "credential-process.sh", fmt.Sprintf(`#!/bin/sh
cat <<'EOF'
{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s", "SessionToken": "%s", "Expiration": "%s"}
EOF
`, tempKey, tempSecret, tempToken, expires), 0o700)
	env := sharedFiles(t, "", fmt.Sprintf("[profile from-process]\ncredential_process = %s\nregion = %s\n", script, testRegion))
	g := startGateway(t, authConfig(endpoint, "aws_profile_name: from-process"), env...)
	mustChat(t, g)
	mustChat(t, g)
	assertSigned(t, em, tempKey)
	assertNoSecrets(t, g)
}

func TestAuthAssumeRoleWithSessionName(t *testing.T) {
	em, endpoint := authEmulator(t, emulator.STSOptions{})
	g := startGateway(t, authConfig(endpoint, `
		aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
		aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
		aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
		aws_role_name: `+roleARN+`
		aws_session_name: my-test-session
		aws_sts_endpoint: `+endpoint), seedEnv...)
	mustChat(t, g)
	calls := em.STSCalls()
	if len(calls) != 1 || calls[0].Action != "AssumeRole" || calls[0].RoleARN != roleARN ||
		calls[0].RoleSessionName != "my-test-session" || calls[0].AccessKeyID != testAccessKey || calls[0].Region != testRegion {
		t.Fatalf("STS calls = %+v", calls)
	}
	assertSigned(t, em, calls[0].Issued)
	assertNoSecrets(t, g, issuedToken(t, em))
}

// Role chaining, two ways: base credentials that are themselves temporary,
// and a profile that assumes a role of its own before the entry's role.
func TestAuthRoleChaining(t *testing.T) {
	t.Run("temporary base credentials", func(t *testing.T) {
		em, endpoint := authEmulator(t, emulator.STSOptions{})
		g := startGateway(t, authConfig(endpoint, `
			aws_access_key_id: `+tempKey+`
			aws_secret_access_key: os.environ/TEMP_SECRET
			aws_session_token: os.environ/TEMP_TOKEN
			aws_region_name: `+testRegion+`
			aws_role_name: `+otherRole+`
			aws_sts_endpoint: `+endpoint), "TEMP_SECRET="+tempSecret, "TEMP_TOKEN="+tempToken)
		mustChat(t, g)
		calls := em.STSCalls()
		if len(calls) != 1 || calls[0].AccessKeyID != tempKey || calls[0].RoleARN != otherRole {
			t.Fatalf("STS calls = %+v", calls)
		}
		assertSigned(t, em, calls[0].Issued)
		assertNoSecrets(t, g, issuedToken(t, em))
	})
	t.Run("profile role, then the entry's role", func(t *testing.T) {
		em, endpoint := authEmulator(t, emulator.STSOptions{})
		env := sharedFiles(t, fmt.Sprintf("[base]\naws_access_key_id = %s\naws_secret_access_key = %s\n", testAccessKey, testSecretKey),
			fmt.Sprintf("[profile hop]\nrole_arn = %s\nsource_profile = base\nrole_session_name = first-hop\nregion = %s\n", roleARN, testRegion))
		// The profile's own AssumeRole goes where the AWS SDK sends it: AWS_ENDPOINT_URL_STS.
		env = append(env, "AWS_ENDPOINT_URL_STS="+endpoint)
		g := startGateway(t, authConfig(endpoint, `
			aws_profile_name: hop
			aws_role_name: `+otherRole+`
			aws_session_name: second-hop
			aws_sts_endpoint: `+endpoint), env...)
		mustChat(t, g)
		calls := em.STSCalls()
		if len(calls) != 2 || calls[0].RoleSessionName != "first-hop" || calls[0].AccessKeyID != testAccessKey ||
			calls[1].RoleSessionName != "second-hop" || calls[1].AccessKeyID != calls[0].Issued {
			t.Fatalf("STS calls = %+v, want the profile's hop signed by the static key, then the entry's hop signed by its result", calls)
		}
		assertSigned(t, em, calls[1].Issued)
		assertNoSecrets(t, g, issuedToken(t, em))
	})
}

func TestAuthExternalID(t *testing.T) {
	em, endpoint := authEmulator(t, emulator.STSOptions{Roles: map[string]emulator.Role{roleARN: {ExternalID: "strata-ext-7"}}})
	config := func(externalID string) string {
		return authConfig(endpoint, `
			aws_access_key_id: `+testAccessKey+`
			aws_secret_access_key: os.environ/SECRET
			aws_region_name: `+testRegion+`
			aws_role_name: `+roleARN+`
			aws_external_id: `+externalID+`
			aws_sts_endpoint: `+endpoint)
	}
	g := startGateway(t, config("strata-ext-7"), "SECRET="+testSecretKey)
	mustChat(t, g)
	if calls := em.STSCalls(); len(calls) != 1 || calls[0].ExternalID != "strata-ext-7" || calls[0].Status != 200 {
		t.Fatalf("STS calls = %+v", calls)
	}
	assertNoSecrets(t, g, issuedToken(t, em))

	em.Reset()
	g = startGateway(t, config("strata-ext-0"), "SECRET="+testSecretKey)
	_, err := chat(t, g, "claude")
	assertCredentialsFailure(t, g, err, "AccessDenied")
	if n := len(em.Calls()); n != 0 {
		t.Errorf("a call reached Bedrock without credentials: %d", n)
	}
	assertNoSecrets(t, g)
}

// assertCredentialsFailure checks what the client and the operator see when
// STS refuses: a clear error for one, STS's reason and the model entry for the other.
func assertCredentialsFailure(t *testing.T, g *gateway, err error, reason string) {
	t.Helper()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("want an API error, got %v", err)
	}
	// AWS refused the deployment's credentials: the client gets a 401 (or a
	// 403 for a denial) that names STS's error code and nothing more.
	code, _, _ := strings.Cut(reason, ":")
	authFailure := apiErr.StatusCode == http.StatusUnauthorized && apiErr.Type == "authentication_error" ||
		apiErr.StatusCode == http.StatusForbidden && apiErr.Type == "permission_error"
	if !authFailure || !strings.Contains(apiErr.Message, "AWS refused the credentials of this model's deployment ("+code+")") {
		t.Errorf("client saw %d %q %q: %q", apiErr.StatusCode, apiErr.Type, apiErr.Code, apiErr.Message)
	}
	g.stop(t)
	if findLog(g, "could not get AWS credentials", `"models":"claude#1"`, reason) == nil {
		t.Errorf("no log line naming the model entry and STS's reason %q:\n%s", reason, g.logs)
	}
	assertFailureNamesEntry(t, g, reason)
}

// assertFailureNamesEntry checks that the failed request's log lines carry
// the upstream reason and name the model entry that failed.
func assertFailureNamesEntry(t *testing.T, g *gateway, reason string) {
	t.Helper()
	g.stop(t)
	failed := findLog(g, "request failed", reason)
	if failed == nil {
		t.Errorf("no request failure logged with %q:\n%s", reason, g.logs)
		return
	}
	for _, rec := range logRecords(g) {
		if rec["request_id"] == failed["request_id"] && (rec["deployment"] == "claude#1" || rec["model"] == "claude") {
			return
		}
	}
	t.Errorf("no log line of the failed request names the model entry:\n%s", g.logs)
}

func TestAuthWebIdentity(t *testing.T) {
	config := func(endpoint, token, session string) string {
		return authConfig(endpoint, `
			aws_region_name: `+testRegion+`
			aws_role_name: `+roleARN+`
			aws_session_name: `+session+`
			aws_web_identity_token: `+token+`
			aws_sts_endpoint: `+endpoint)
	}
	sts := emulator.STSOptions{WebIdentityTokens: []string{goodToken}}
	t.Run("inline", func(t *testing.T) {
		em, endpoint := authEmulator(t, sts)
		g := startGateway(t, config(endpoint, goodToken, "web-inline"))
		mustChat(t, g)
		calls := em.STSCalls()
		if len(calls) != 1 || calls[0].Action != "AssumeRoleWithWebIdentity" || calls[0].RoleSessionName != "web-inline" || calls[0].Region != "" {
			t.Fatalf("STS calls = %+v, want one unsigned AssumeRoleWithWebIdentity", calls)
		}
		assertSigned(t, em, calls[0].Issued)
		assertNoSecrets(t, g, issuedToken(t, em))
	})
	t.Run("file", func(t *testing.T) {
		em, endpoint := authEmulator(t, sts)
		g := startGateway(t, config(endpoint, writeFile(t, "token", goodToken+"\n", 0o600), "web-file"))
		mustChat(t, g)
		calls := em.STSCalls()
		if len(calls) != 1 || calls[0].Action != "AssumeRoleWithWebIdentity" || calls[0].Status != 200 {
			t.Fatalf("STS calls = %+v", calls)
		}
		assertNoSecrets(t, g, issuedToken(t, em))
	})
	t.Run("token for another audience", func(t *testing.T) {
		_, endpoint := authEmulator(t, sts)
		g := startGateway(t, config(endpoint, strangerJWT, "web-bad"))
		_, err := chat(t, g, "claude")
		assertCredentialsFailure(t, g, err, "InvalidIdentityToken: Incorrect token audience")
		assertNoSecrets(t, g)
	})
}

// A wrong secret: Bedrock's 401 for static keys; for a role, STS refuses
// and the client gets a clear error while the log says which entry and why.
func TestAuthWrongSecret(t *testing.T) {
	t.Run("static keys", func(t *testing.T) {
		_, endpoint := authEmulator(t, emulator.STSOptions{})
		g := startGateway(t, authConfig(endpoint, `
			aws_access_key_id: `+testAccessKey+`
			aws_secret_access_key: os.environ/SECRET
			aws_region_name: `+testRegion), "SECRET=not-the-secret-at-all")
		_, err := chat(t, g, "claude")
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || apiErr.Type != "authentication_error" {
			t.Fatalf("want a 401 authentication_error, got %v", err)
		}
		assertFailureNamesEntry(t, g, "InvalidSignatureException")
		assertNoSecrets(t, g, "not-the-secret-at-all")
	})
	t.Run("base of a role", func(t *testing.T) {
		em, endpoint := authEmulator(t, emulator.STSOptions{})
		g := startGateway(t, authConfig(endpoint, `
			aws_access_key_id: `+testAccessKey+`
			aws_secret_access_key: os.environ/SECRET
			aws_region_name: `+testRegion+`
			aws_role_name: `+roleARN+`
			aws_sts_endpoint: `+endpoint), "SECRET=not-the-secret-at-all")
		_, err := chat(t, g, "claude")
		assertCredentialsFailure(t, g, err, "SignatureDoesNotMatch")
		if calls := em.STSCalls(); len(calls) != 1 || calls[0].Status != http.StatusForbidden {
			t.Errorf("STS calls = %+v", calls)
		}
		assertNoSecrets(t, g, "not-the-secret-at-all")
	})
}

// roleGateway serves "claude" through an assumed role.
func roleGateway(t *testing.T, sts emulator.STSOptions) (*emulator.Emulator, *gateway) {
	t.Helper()
	em, endpoint := authEmulator(t, sts)
	g := startGateway(t, authConfig(endpoint, `
		aws_access_key_id: `+testAccessKey+`
		aws_secret_access_key: os.environ/SECRET
		aws_region_name: `+testRegion+`
		aws_role_name: `+roleARN+`
		aws_sts_endpoint: `+endpoint), "SECRET="+testSecretKey)
	return em, g
}

func TestAuthConcurrentRequestsOneSTSCall(t *testing.T) {
	em, g := roleGateway(t, emulator.STSOptions{})
	client := g.client()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Go(func() {
			_, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
				Model:    "claude",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("all at once")},
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a request failed: %v", err)
		}
	}
	if calls := em.STSCalls(); len(calls) != 1 {
		t.Fatalf("200 concurrent requests made %d STS calls, want 1", len(calls))
	}
	if n := len(em.Calls()); n != 200 {
		t.Errorf("Bedrock got %d calls", n)
	}
	assertNoSecrets(t, g, issuedToken(t, em))
}

// Credentials that live 5 s are renewed in the background while requests
// keep coming; one renewal is refused by STS, and still no request fails.
func TestAuthRenewalNearExpiry(t *testing.T) {
	em, g := roleGateway(t, emulator.STSOptions{CredentialTTL: 5 * time.Second})
	mustChat(t, g)
	em.FailSTS(1, "AccessDenied", "") // not retried by the SDK: the renewal itself fails

	var failures []error
	for deadline := time.Now().Add(6500 * time.Millisecond); time.Now().Before(deadline); {
		if _, err := chat(t, g, "claude"); err != nil {
			failures = append(failures, err)
		}
		time.Sleep(30 * time.Millisecond)
	}
	if len(failures) > 0 {
		t.Fatalf("%d requests failed while credentials were renewed; first: %v", len(failures), failures[0])
	}
	var good, refused int
	for _, c := range em.STSCalls() {
		if c.Status == http.StatusOK {
			good++
		} else {
			refused++
		}
	}
	if good < 2 || refused != 1 {
		t.Errorf("STS: %d good and %d refused calls; want renewals past the refused one", good, refused)
	}
	for _, c := range em.Calls() {
		if c.Status != http.StatusOK {
			t.Fatalf("Bedrock refused a call: %s", c.Error)
		}
	}
	g.stop(t)
	if findLog(g, "AWS credentials renewal failed; still using the current credentials and retrying", "AccessDenied", `"models":"claude#1"`) == nil {
		t.Errorf("the refused renewal was not logged:\n%s", g.logs)
	}
	assertNoSecrets(t, g, issuedToken(t, em))
}

// model_id carries a provisioned-throughput ARN into the URL, escaped,
// while model still decides the family.
func TestAuthProvisionedThroughputARN(t *testing.T) {
	em, endpoint := authEmulator(t, emulator.STSOptions{})
	arn := "arn:aws:bedrock:us-west-2:111122223333:provisioned-model/a1b2c3d4e5f6"
	g := startGateway(t, authConfig(endpoint, `
		model_id: `+arn+`
		aws_access_key_id: `+testAccessKey+`
		aws_secret_access_key: os.environ/SECRET
		aws_region_name: `+testRegion), "SECRET="+testSecretKey)
	resp, err := chat(t, g, "claude")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != authModel {
		t.Errorf("answer names model %q, want the base model %q", resp.Model, authModel)
	}
	call := assertSigned(t, em, testAccessKey)
	if call.ModelID != arn || call.RawPath != "/model/"+strings.NewReplacer(":", "%3A", "/", "%2F").Replace(arn)+"/converse" {
		t.Errorf("Bedrock got model %q at %q", call.ModelID, call.RawPath)
	}
	assertNoSecrets(t, g)
}

// Cross-region inference profile ids and application inference profile
// ARNs work as model values.
func TestAuthInferenceProfiles(t *testing.T) {
	em, endpoint := authEmulator(t, emulator.STSOptions{})
	appProfile := "arn:aws:bedrock:us-west-2:111122223333:application-inference-profile/x7k2p9q4m1z8"
	config := "model_list:\n"
	for _, m := range []struct{ name, model string }{
		{"claude-us", "us." + authModel},
		{"claude-global", "global.anthropic.claude-sonnet-4-20250514-v1:0"},
		{"claude-app", appProfile},
	} {
		config += fmt.Sprintf(`  - model_name: %s
    litellm_params:
      model: bedrock/%s
      aws_bedrock_runtime_endpoint: %s
      aws_access_key_id: %s
      aws_secret_access_key: os.environ/SECRET
      aws_region_name: %s
`, m.name, m.model, endpoint, testAccessKey, testRegion)
	}
	g := startGateway(t, config, "SECRET="+testSecretKey)
	for _, c := range []struct{ name, id, rawPath string }{
		{"claude-us", "us." + authModel, "/model/us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"},
		{"claude-global", "global.anthropic.claude-sonnet-4-20250514-v1:0", "/model/global.anthropic.claude-sonnet-4-20250514-v1%3A0/converse"},
		{"claude-app", appProfile, "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A111122223333%3Aapplication-inference-profile%2Fx7k2p9q4m1z8/converse"},
	} {
		if _, err := chat(t, g, c.name); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if call := lastCall(t, em); call.ModelID != c.id || call.RawPath != c.rawPath || call.Status != 200 {
			t.Errorf("%s: Bedrock got %q at %q (%d)", c.name, call.ModelID, call.RawPath, call.Status)
		}
	}
	// The application profile's ARN says nothing of the model behind it:
	// the operator is told once, at startup, that it is served through Converse.
	warned := 0
	for _, rec := range logRecords(g) {
		if raw, _ := json.Marshal(rec); rec["level"] == "WARN" && strings.Contains(string(raw), appProfile) {
			warned++
		}
	}
	if warned != 1 {
		t.Errorf("%d startup warnings about %s, want 1:\n%s", warned, appProfile, g.logs)
	}
	assertNoSecrets(t, g)
}
