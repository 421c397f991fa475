package slack

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/slack-go/slack"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func runView(steps int) *bot.RunView {
	v := &bot.RunView{ID: 12, Title: "Run #12 deploy-web production — failed", Definition: "deploy-web", Environment: "production",
		State: dayops.RunFailed, Rollback: dayops.RolledBack, Requester: "alice", Revision: "0123456",
		Params: "version=v1.2.0", Note: "step Deploy failed", URL: "https://dayops.example.com/runs/12?sig=a&b", Duration: 3*time.Minute + 7*time.Second}
	for i := range steps {
		v.Steps = append(v.Steps, bot.StepView{Index: i, Name: fmt.Sprintf("Step %d", i), State: dayops.StepSucceeded, Duration: 1500 * time.Millisecond})
	}
	return v
}

func TestRenderGolden(t *testing.T) {
	failed := runView(2)
	failed.Steps = append(failed.Steps,
		bot.StepView{Index: 2, Name: "Deploy <!channel>", State: dayops.StepFailed, Duration: time.Second, Error: "exit status 1"},
		bot.StepView{Index: 0, Name: "Roll back", State: dayops.StepSucceeded, Duration: 2 * time.Second, Rollback: true})
	failed.Output = []string{"error: deployment \"web\" exceeded its progress deadline", "<@U0BOSS> & friends ```"}
	failed.OutputStep = "Deploy <!channel>"
	waiting := runView(1)
	waiting.Title, waiting.State, waiting.Rollback, waiting.Note = "Run #12 deploy-web production — awaiting approval", dayops.RunAwaitingApproval, dayops.RollbackNone, "waiting for approval (not alice, who asked): approve 12 or deny 12"
	waiting.Steps = append(waiting.Steps, bot.StepView{Index: 1, Name: "Confirm", State: dayops.StepAwaitingApproval})
	tests := map[string]bot.Message{
		"run_failed": {Run: failed},
		"run_awaiting_approval": {Run: waiting, Buttons: []bot.Button{
			{Label: "Approve run 12", Action: bot.ActionApprove, Value: "12", Style: bot.StylePrimary},
			{Label: "Deny", Action: bot.ActionDeny, Value: "12", Style: bot.StyleDanger},
			{Label: "Cancel", Action: bot.ActionCancel, Value: "12"}}},
		"answer": {Text: "deploy-web: Deploy the web service\nparameters: version (required)", Fields: []bot.Field{{Label: "revision", Value: "0123456"}},
			Pre: "plan:\n  1. Back up the database\n  2. Verify", Footer: "run `/ops plan deploy-web staging` to see more"},
	}
	for name, m := range tests {
		t.Run(name, func(t *testing.T) {
			blocks, fallback := Render(m)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(map[string]any{"text": fallback, "blocks": blocks}); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			path := filepath.Join("testdata", name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("blocks (-want +got):\n%s", diff)
			}
		})
	}
}

// texts returns every text of blocks with its kind, as Slack counts them.
func texts(t *testing.T, blocks []slack.Block) (sections []string, all []string) {
	t.Helper()
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	var bs []struct {
		Type     string                 `json:"type"`
		Text     *struct{ Text string } `json:"text"`
		Elements []struct {
			Text any `json:"text"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(raw, &bs); err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Text != nil {
			sections = append(sections, b.Text.Text)
			all = append(all, b.Text.Text)
		}
		for _, e := range b.Elements {
			switch x := e.Text.(type) {
			case string:
				all = append(all, x)
			case map[string]any:
				all = append(all, x["text"].(string))
			}
		}
	}
	return sections, all
}

// checkLimits fails when blocks break one of Block Kit's limits.
func checkLimits(t *testing.T, blocks []slack.Block, fallback string) {
	t.Helper()
	if len(blocks) > maxBlocks {
		t.Errorf("%d blocks; Slack takes %d", len(blocks), maxBlocks)
	}
	sections, all := texts(t, blocks)
	total := utf8.RuneCountInString(fallback)
	for _, s := range sections {
		if n := utf8.RuneCountInString(s); n > maxSection {
			t.Errorf("a section of %d characters; Slack takes %d", n, maxSection)
		}
	}
	for _, s := range all {
		if !utf8.ValidString(s) {
			t.Errorf("invalid UTF-8 in %q", s)
		}
		total += utf8.RuneCountInString(s)
	}
	if total > maxMessage {
		t.Errorf("%d characters in all; Slack takes %d", total, maxMessage)
	}
}

var moreRE = regexp.MustCompile(`… (\d+) (more|earlier)`)

// asciiRun is a run whose every text is as long as it can be, in bytes
// that are one character each.
func asciiRun() *bot.RunView {
	v := runView(0)
	long := strings.Repeat("&", 3000)
	v.Title, v.Note, v.Params, v.Requester, v.OutputStep, v.URL = long, long, long, long, long, "https://x/"+long
	for i := range 300 {
		v.Steps = append(v.Steps, bot.StepView{Index: i, Name: long, State: dayops.StepFailed, Error: long, Duration: time.Hour})
		v.Output = append(v.Output, long)
	}
	return v
}

// TestRenderAtTheLimits: whatever the size of a message, it fits Block Kit,
// and what is left out is said, with how much.
func TestRenderAtTheLimits(t *testing.T) {
	long := strings.Repeat("é<>&", 200) // 800 runes, escaped to 2,600 bytes
	huge := runView(5000)
	for i := range huge.Steps {
		huge.Steps[i].Name = fmt.Sprintf("%d %s", i, long[:100])
	}
	for i := range 2000 {
		huge.Output = append(huge.Output, fmt.Sprintf("line %d %s", i, long))
	}
	huge.OutputStep = long
	huge.Title, huge.Note, huge.Params, huge.Requester = long+long, long+long+long, long+long, long
	var many []bot.Button
	for i := range 40 {
		many = append(many, bot.Button{Label: long, Action: bot.ActionCancel, Value: strconv.Itoa(i)})
	}
	var fields []bot.Field
	for range 100 {
		fields = append(fields, bot.Field{Label: long, Value: long})
	}
	text := strings.Repeat(long+"\n", 300)
	tests := []struct {
		name string
		m    bot.Message
	}{
		{"no steps", bot.Message{Run: runView(0)}},
		{"5,000 steps", bot.Message{Run: &bot.RunView{Title: "t", URL: "https://x/runs/1", Steps: huge.Steps}}},
		{"everything huge", bot.Message{Text: text, Fields: fields, Pre: text, Run: huge, Buttons: many, Footer: text}},
		{"everything huge, in ASCII", bot.Message{Text: strings.Repeat("<&>", 20000), Fields: []bot.Field{{Label: strings.Repeat("&", 9000)}},
			Pre: strings.Repeat("x\n", 20000), Run: asciiRun(), Buttons: many, Footer: strings.Repeat("<", 5000)}},
		{"a single line over a section", bot.Message{Text: strings.Repeat("x", 10000)}},
		{"many short lines", bot.Message{Pre: strings.Repeat("ab\n", 100000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blocks, fallback := Render(tt.m)
			checkLimits(t, blocks, fallback)
		})
	}

	// The numbers said to be left out add up with what is shown.
	t.Run("steps counted", func(t *testing.T) {
		v := runView(3000)
		blocks, _ := Render(bot.Message{Run: v})
		sections, _ := texts(t, blocks)
		shown, left := 0, 0
		for _, s := range sections {
			shown += strings.Count(s, "✓ Step ")
			if m := moreRE.FindStringSubmatch(s); m != nil {
				n, _ := strconv.Atoi(m[1])
				left += n
				if !strings.Contains(s, "more steps on the <https://dayops.example.com/runs/12?sig=a&amp;b|run page>") {
					t.Errorf("the cut does not link the run page: %q", s[len(s)-200:])
				}
			}
		}
		if shown == 0 || left == 0 || shown+left != 3000 {
			t.Errorf("%d steps shown and %d said left out; want 3000 in all, some cut", shown, left)
		}
	})
	t.Run("output keeps its end", func(t *testing.T) {
		v := runView(1)
		for i := range 500 {
			v.Output = append(v.Output, fmt.Sprintf("line %d of the output", i))
		}
		blocks, _ := Render(bot.Message{Run: v})
		_, all := texts(t, blocks)
		joined := strings.Join(all, "\n")
		m := moreRE.FindStringSubmatch(joined)
		if m == nil || !strings.Contains(joined, "line 499 of the output") {
			t.Fatalf("output without its end or without the cut said:\n%s", joined)
		}
		n, _ := strconv.Atoi(m[1])
		if !strings.Contains(joined, fmt.Sprintf("line %d of the output\n", n)) || strings.Contains(joined, fmt.Sprintf("line %d of the output\n", n-1)) {
			t.Errorf("%d earlier lines said left out, but the shown lines do not start at line %d", n, n)
		}
	})
}

// TestRenderEscapes: user text cannot ping, link or format its way out.
func TestRenderEscapes(t *testing.T) {
	hostile := "<!channel> <!here|here> <@U0BOSS> <https://evil.example|click> & co"
	v := runView(0)
	v.Title, v.Requester, v.Params, v.Note, v.OutputStep = hostile, hostile, hostile, hostile, hostile
	v.Steps = []bot.StepView{{Name: hostile, State: dayops.StepFailed, Error: hostile}}
	v.Output = []string{hostile}
	v.URL = ""
	m := bot.Message{Text: hostile, Fields: []bot.Field{{Label: hostile, Value: hostile}}, Pre: hostile, Run: v, Footer: hostile,
		Buttons: []bot.Button{{Label: hostile, Action: bot.ActionCancel, Value: "12"}}}
	blocks, fallback := Render(m)
	_, all := texts(t, blocks)
	if strings.ContainsAny(fallback, "<>") {
		t.Errorf("unescaped fallback %q", fallback)
	}
	for _, s := range all {
		if strings.ContainsAny(strings.ReplaceAll(s, "<@", "&lt;@"), "<>") && !strings.HasPrefix(s, hostile) {
			t.Errorf("unescaped < or > in %q", s)
		}
		if strings.Contains(s, "<!channel>") && s != hostile {
			t.Errorf("a ping in %q", s)
		}
	}
	if joined := strings.Join(all, "\n"); !strings.Contains(joined, "&lt;!channel&gt;") || !strings.Contains(joined, "&amp; co") {
		t.Errorf("the text is not shown escaped:\n%s", joined)
	}
}

func TestActionIDs(t *testing.T) {
	m := bot.Message{Buttons: []bot.Button{
		{Label: "Cancel 1", Action: bot.ActionCancel, Value: "1"},
		{Label: "Cancel 2", Action: bot.ActionCancel, Value: "2"},
		{Label: "Approve", Action: bot.ActionApprove, Value: "1"},
		{Label: "1: Yes", Action: bot.ActionAnswerYes, Value: "3:1"},
		{Label: "1: No", Action: bot.ActionAnswerNo, Value: "3:1"},
		{Label: "2: Yes", Action: bot.ActionAnswerYes, Value: "3:2"},
		{Label: "Mystery", Action: "mystery", Value: "1"}}}
	blocks, _ := Render(m)
	raw, _ := json.Marshal(blocks)
	var got []struct {
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(raw, &got); err != nil || len(got) != 1 {
		t.Fatalf("%s: %v", raw, err)
	}
	var ids []string
	for _, e := range got[0].Elements {
		ids = append(ids, e.ActionID+"="+actionOf(e.ActionID)+":"+e.Value)
	}
	want := []string{"dayops_cancel=cancel:1", "dayops_cancel.1=cancel:2", "dayops_approve=approve:1",
		"dayops_answer_yes=answer_yes:3:1", "dayops_answer_no=answer_no:3:1", "dayops_answer_yes.5=answer_yes:3:2"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("buttons (-want +got):\n%s", diff)
	}
	if a := actionOf("a"); a != "" {
		t.Errorf("actionOf(a) = %q", a)
	}
}

// TestPack: at and around the limits, every text fits and every line is
// either shown whole or counted as left out.
func TestPack(t *testing.T) {
	for _, size := range []int{1, 2, 99, 100, 101, 999, 1000, 1001, 2899, 2900, 2901, 2999, 3000, 3001, 5000} {
		for _, n := range []int{1, 2, 3, 4, 7, 30, 100} {
			for _, sections := range []int{1, 2, 3} {
				lines := make([]string, n)
				for i := range lines {
					lines[i] = fmt.Sprintf("%05d", i) + strings.Repeat("x", max(size-5, 0))
				}
				out := pack(lines, sections, maxSection, func(k int) string { return fmt.Sprintf("… %d more", k) })
				if len(out) > sections {
					t.Errorf("size %d n %d: %d sections; want at most %d", size, n, len(out), sections)
				}
				shown, left := 0, 0
				for _, s := range out {
					if len(s) > maxSection {
						t.Errorf("size %d n %d: a section of %d bytes", size, n, len(s))
					}
					for _, l := range strings.Split(s, "\n") {
						if m := moreRE.FindStringSubmatch(l); m != nil {
							k, _ := strconv.Atoi(m[1])
							left += k
						} else if l != "" {
							shown++
						}
					}
				}
				if shown+left != n {
					t.Errorf("size %d n %d sections %d: %d shown + %d said left out; want %d", size, n, sections, shown, left, n)
				}
			}
		}
	}
}

// FuzzRender: any text in any part of a message renders within Block Kit's
// limits, as valid UTF-8, without a raw < or > from the text.
func FuzzRender(f *testing.F) {
	f.Add("<!channel> & co", "Deploy", "line", 3, 2)
	f.Add(strings.Repeat("&", 3000), strings.Repeat("é", 600), strings.Repeat("<", 400), 200, 500)
	f.Fuzz(func(t *testing.T, text, step, out string, steps, lines int) {
		steps, lines = min(max(steps, 0), 1000), min(max(lines, 0), 1000)
		v := runView(0)
		v.Title, v.Note, v.OutputStep = text, text, step
		for i := range steps {
			v.Steps = append(v.Steps, bot.StepView{Index: i, Name: step, State: dayops.StepFailed, Error: out})
		}
		for range lines {
			v.Output = append(v.Output, out)
		}
		m := bot.Message{Text: text, Pre: out, Run: v, Footer: step, Fields: []bot.Field{{Label: step, Value: text}}}
		blocks, fallback := Render(m)
		checkLimits(t, blocks, fallback)
		if strings.ContainsAny(fallback, "<>") {
			t.Errorf("raw < or > in the fallback %q", fallback)
		}
	})
}
