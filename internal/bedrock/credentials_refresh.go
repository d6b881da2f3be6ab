package bedrock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
)

// How early temporary credentials are renewed and how long they are trusted.
// Each is capped by a fraction of the credentials' lifetime, so short-lived
// credentials (tests, tight role session limits) follow the same rhythm.
const (
	maxRenewAhead   = 5 * time.Minute  // renew this long before expiry, at most a third of the lifetime
	maxSafetyMargin = time.Minute      // stop handing out credentials this long before expiry, at most a tenth of the lifetime
	maxRetryDelay   = 30 * time.Second // wait between failed renewals, at most a twentieth of the lifetime
	minRetryDelay   = 100 * time.Millisecond
	fetchTimeout    = 30 * time.Second // one fetch, the SDK's own retries included
)

// refreshingCredentials hands one identity's credentials to every request
// and renews them before they expire, in the background, one fetch at a
// time. A renewal that fails while the current credentials are still good
// costs no request anything: they keep being used, the failure is logged,
// and the renewal is tried again a little later. Only when no good
// credentials are left do requests wait, all of them on one fetch.
//
// aws.CredentialsCache is not enough here: inside its expiry window it
// fetches in the request's path and returns the error of a failed fetch even
// though the credentials it holds would still have worked.
type refreshingCredentials struct {
	source   aws.CredentialsProvider
	identity string // what these credentials are, for logs; never a secret
	log      *slog.Logger
	now      func() time.Time

	mu        sync.Mutex
	current   aws.Credentials
	fetchedAt time.Time
	have      bool
	fetching  *credentialsFetch // the fetch in flight, if any
	retryAt   time.Time         // no renewal before this, after a failed one
	users     []string          // model entries using these credentials, for logs

	// joined, when set, is called each time a request has joined a fetch
	// in flight and is about to wait for it: tests use it to know that
	// every caller waits on the one fetch before letting it finish.
	joined func()
}

// credentialsFetch is one call to the source that any number of requests may wait on.
type credentialsFetch struct {
	done  chan struct{}
	creds aws.Credentials
	err   error
}

func newRefreshingCredentials(source aws.CredentialsProvider, identity string, log *slog.Logger, now func() time.Time) *refreshingCredentials {
	return &refreshingCredentials{source: source, identity: identity, log: log, now: now}
}

// addUser records that a model entry uses these credentials.
func (p *refreshingCredentials) addUser(entry string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users = append(p.users, entry)
}

// Retrieve returns credentials good for at least the safety margin. Their
// Expires is the end of that window, so any cache in front of this one
// (the SDK's STS client, when these are the base of a role) lets go in time.
func (p *refreshingCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	p.mu.Lock()
	now := p.now()
	if p.have && p.usable(now) {
		if p.renewalDue(now) && p.fetching == nil && !now.Before(p.retryAt) {
			p.startFetch()
		}
		creds := p.handOut()
		p.mu.Unlock()
		return creds, nil
	}
	f := p.fetching
	if f == nil {
		f = p.startFetch()
	}
	joined := p.joined
	p.mu.Unlock()
	if joined != nil {
		joined()
	}

	select {
	case <-f.done:
		return f.creds, f.err
	case <-ctx.Done():
		return aws.Credentials{}, fmt.Errorf("waiting for AWS credentials (%s): %w", p.identity, ctx.Err())
	}
}

// startFetch starts a fetch in the background; p.mu is held. The fetch does
// not use any request's context: one client that goes away must not fail the
// others waiting on it.
func (p *refreshingCredentials) startFetch() *credentialsFetch {
	f := &credentialsFetch{done: make(chan struct{})}
	p.fetching = f
	go p.fetch(f)
	return f
}

func (p *refreshingCredentials) fetch(f *credentialsFetch) {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	if cache, ok := p.source.(*aws.CredentialsCache); ok {
		// The SDK's own cache would hand back what this one already holds.
		cache.Invalidate()
	}
	creds, err := p.source.Retrieve(ctx)

	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if err == nil {
		err = checkFetched(creds, now)
	}
	if err != nil {
		err = p.failed(now, withoutProcessOutput(err))
	} else {
		p.renewed(now, creds)
	}
	// Requests that joined this fetch get whatever is still good, even when
	// the renewal itself failed.
	if p.have && p.usable(now) {
		f.creds = p.handOut()
	} else {
		f.err = err
	}
	p.fetching = nil
	close(f.done)
}

// withoutProcessOutput keeps a credential_process's output out of errors and
// logs: the AWS SDK quotes it whole when it is not valid JSON, and it may
// hold the very secrets it failed to deliver.
func withoutProcessOutput(err error) error {
	var pe *processcreds.ProviderError
	if errors.As(err, &pe) && strings.HasPrefix(pe.Err.Error(), "parse failed of process output") {
		return errors.New("credential_process printed something that is not the JSON the AWS SDK expects (not shown: it may hold secrets)")
	}
	return err
}

// checkFetched rejects what no request could use.
func checkFetched(creds aws.Credentials, now time.Time) error {
	switch {
	case !creds.HasKeys():
		return errors.New("the credentials provider returned no keys")
	case creds.CanExpire && !creds.Expires.After(now):
		return fmt.Errorf("the credentials provider returned credentials that expired at %s", creds.Expires.UTC().Format(time.RFC3339))
	}
	return nil
}

// renewed stores fresh credentials; p.mu is held.
func (p *refreshingCredentials) renewed(now time.Time, creds aws.Credentials) {
	p.current, p.fetchedAt, p.have = creds, now, true
	p.retryAt = time.Time{}
	if p.renewalDue(now) {
		// A source that hands back credentials already due for renewal would
		// otherwise be asked again on every request.
		p.retryAt = now.Add(p.retryDelay())
	}
	if creds.CanExpire {
		p.log.Info("AWS credentials obtained", "identity", p.identity, "models", p.usersList(),
			"expires", creds.Expires.UTC().Format(time.RFC3339))
	}
}

// failed logs a failed fetch and returns the error requests see; p.mu is held.
func (p *refreshingCredentials) failed(now time.Time, err error) error {
	err = fmt.Errorf("%s: %w", p.identity, err)
	if p.have && p.usable(now) {
		p.retryAt = now.Add(p.retryDelay())
		p.log.Warn("AWS credentials renewal failed; still using the current credentials and retrying",
			"identity", p.identity, "models", p.usersList(), "valid_until", p.usableUntil().UTC().Format(time.RFC3339),
			"retry_in", p.retryAt.Sub(now).String(), "error", err.Error())
		return err
	}
	p.log.Error("could not get AWS credentials", "identity", p.identity, "models", p.usersList(), "error", err.Error())
	return err
}

func (p *refreshingCredentials) usersList() string { return strings.Join(p.users, ",") }

// lifetime is how long the current credentials were good for when fetched.
func (p *refreshingCredentials) lifetime() time.Duration {
	return max(p.current.Expires.Sub(p.fetchedAt), 0)
}

func (p *refreshingCredentials) usableUntil() time.Time {
	return p.current.Expires.Add(-min(maxSafetyMargin, p.lifetime()/10))
}

func (p *refreshingCredentials) usable(now time.Time) bool {
	return !p.current.CanExpire || now.Before(p.usableUntil())
}

func (p *refreshingCredentials) renewalDue(now time.Time) bool {
	return p.current.CanExpire && !now.Before(p.current.Expires.Add(-min(maxRenewAhead, p.lifetime()/3)))
}

func (p *refreshingCredentials) retryDelay() time.Duration {
	return min(maxRetryDelay, max(p.lifetime()/20, minRetryDelay))
}

// handOut is the current credentials with Expires moved to the end of the
// safety margin; p.mu is held.
func (p *refreshingCredentials) handOut() aws.Credentials {
	creds := p.current
	if creds.CanExpire {
		creds.Expires = p.usableUntil()
	}
	return creds
}
