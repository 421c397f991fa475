package bot_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dayops/dayops/bot"
)

// TestRunURL: with Options.RunURL the run message carries its link (the web
// package's signed one), never the bare BaseURL/runs/ID.
func TestRunURL(t *testing.T) {
	w := newWorld(t, func(o *bot.Options) {
		o.RunURL = func(id int64) string { return fmt.Sprintf("https://dayops.example.com/runs/%d?exp=1&sig=abc", id) }
	})
	w.say(carol, "deploy web staging v1.2.0")
	w.bot.Wait()
	got := w.door.Transcript()
	if !strings.Contains(got, "https://dayops.example.com/runs/1?exp=1&sig=abc") {
		t.Errorf("the run message has no signed link:\n%s", got)
	}
	if strings.Contains(strings.ReplaceAll(got, "/runs/1?", ""), "/runs/1") {
		t.Errorf("the run message still has an unsigned link:\n%s", got)
	}
}

// TestRunURLWithoutHook: without the hook a run links BaseURL/runs/ID, and
// without a base URL nothing.
func TestRunURLWithoutHook(t *testing.T) {
	if got := newWorld(t).bot.RunURL(7); got != "https://dayops.example.com/runs/7" {
		t.Errorf("RunURL = %q, want the base URL's", got)
	}
	if got := newWorld(t, func(o *bot.Options) { o.BaseURL = "" }).bot.RunURL(7); got != "" {
		t.Errorf("RunURL without a base URL = %q, want none", got)
	}
	signed := newWorld(t, func(o *bot.Options) { o.RunURL = func(id int64) string { return fmt.Sprintf("signed:%d", id) } })
	if got := signed.bot.RunURL(7); got != "signed:7" {
		t.Errorf("RunURL with the hook = %q", got)
	}
}
