package bedrock

import "time"

// SetClock makes the store, and the credentials it builds after the call,
// tell time by now.
func (s *CredentialStore) SetClock(now func() time.Time) { s.now = now }

// WaitForFetches waits until no credentials fetch started before the call
// is still in flight. Retrieve starts a renewal before it returns, so one a
// request began is always waited for.
func (s *CredentialStore) WaitForFetches() {
	s.mu.Lock()
	providers := make([]*refreshingCredentials, 0, len(s.providers))
	for _, p := range s.providers {
		providers = append(providers, p)
	}
	s.mu.Unlock()
	for _, p := range providers {
		p.mu.Lock()
		f := p.fetching
		p.mu.Unlock()
		if f != nil {
			<-f.done
		}
	}
}
