package github_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dayops/dayops/bot/github"
	"github.com/dayops/dayops/bot/github/githubtest"
	"github.com/dayops/dayops/internal/testkit/fixtures"
)

// fixture is a published GitHub payload of the shared fixtures, its fields
// as raw JSON.
func fixture(t *testing.T, name string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(fixtures.Read(t, "github", name), &m); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return m
}

// withField returns raw (a JSON object) with field set to v.
func withField(t *testing.T, raw json.RawMessage, field string, v any) json.RawMessage {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m[field] = v
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// newClient is a client of fake, with fast retries.
func newClient(t *testing.T, fake *githubtest.Server, now func() time.Time) *github.Client {
	t.Helper()
	c, err := github.NewClient(github.ClientOptions{BaseURL: fake.URL, Backoff: time.Millisecond, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
