package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/bottest"
)

// TestForkCommentsAreRefused: a command in a comment on a pull request from
// a fork starts nothing, reads nothing and is audited as refused, unless
// forks are allowed; then its run gets no secrets.
func TestForkCommentsAreRefused(t *testing.T) {
	fork := dayops.PullRequest{Repo: "acme/web", Number: 7, Author: "mallory", HeadSHA: "bad5ha", Fork: true}
	where := dayops.Thread{Door: "test", Channel: "acme/web#7"}
	for _, allow := range []bool{false, true} {
		store := &bottest.Store{}
		engine := &bottest.Engine{Store: store}
		door := &bottest.Door{DoorName: "test"}
		b, err := bot.New(bot.Options{Engine: engine, Store: store, Catalogs: &bottest.Catalogs{Cat: bottest.Catalog(t)},
			Policy: bottest.Policy(), AllowForks: allow, Now: func() time.Time { return testNow }})
		if err != nil {
			t.Fatal(err)
		}
		b.Register(door)
		for _, text := range []string{"deploy web staging v1.2.0", "status"} {
			b.Submit(context.Background(), bot.Submission{Actor: carol, Thread: where, Trigger: dayops.TriggerPRComment,
				Context: fork.Context(), Text: text})
		}
		b.Wait()
		reqs := engine.Requests()
		if !allow {
			if len(reqs) != 0 {
				t.Errorf("forks not allowed: started %+v", reqs)
			}
			posts := door.Posts()
			if len(posts) != 2 || !strings.Contains(posts[0].Msg.Plain(), "comes from a fork") || !strings.Contains(posts[0].Msg.Plain(), "github.allow_forks") {
				t.Errorf("forks not allowed: answers %+v", posts)
			}
			refused := 0
			for _, a := range store.Audits() {
				if !a.Allowed && strings.Contains(a.Reason, "fork") {
					refused++
				}
			}
			if refused != 2 {
				t.Errorf("%d refusals audited, want 2: %+v", refused, store.Audits())
			}
		} else if len(reqs) != 1 || !reqs[0].NoSecrets {
			t.Errorf("forks allowed: started %+v, want one run without secrets", reqs)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
