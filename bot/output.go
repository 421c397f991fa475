package bot

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/commands"
)

// The Full output button. A failed run's message quotes the last lines of
// the step that failed it; the button sends the run's whole stored output
// as a text file into the run's thread, to doors that take files, and tells
// the others which command shows it.

// MaxFileBytes bounds the output file of one run (Slack takes far more; a
// chat thread is not the place for more). What does not fit is counted in
// a last line that says where to read it all.
const MaxFileBytes = 20 << 20

// verbOutput is the Full output button as a verb, in the audit trail.
const verbOutput commands.Verb = "output"

// clickOutput answers a Full output button: the clicker must be allowed to
// read, as for status, and the run must still be known.
func (b *Bot) clickOutput(ctx context.Context, c Click) {
	id, ok := parseRunID(c.Value)
	if !ok {
		b.log.Warn("output button without a run", "value", c.Value, "actor", c.Actor.ID)
		b.post(ctx, c.Thread, Message{Text: "that Full output button names no run; type `" + b.prefix + " status RUN` instead", Private: true})
		return
	}
	cl := &call{actor: c.Actor, thread: c.Thread, trigger: dayops.TriggerButton,
		cmd: &commands.Command{Verb: verbOutput, RunID: id, Text: "output " + strconv.FormatInt(id, 10)}}
	if err := b.authorizeRead(ctx, cl, "run "+strconv.FormatInt(id, 10)); err != nil {
		b.post(ctx, c.Thread, b.errorMessage(err, "", cl))
		return
	}
	run, err := b.store.Run(ctx, id)
	if err != nil {
		if dayops.KindOf(err) == dayops.KindNotFound {
			b.post(ctx, c.Thread, Message{Private: true, Text: fmt.Sprintf("this Full output button no longer applies: run %d is not known", id)})
			return
		}
		b.post(ctx, c.Thread, b.errorMessage(err, "", cl))
		return
	}
	file, lines, err := b.outputFile(ctx, run, MaxFileBytes)
	if err != nil {
		b.post(ctx, c.Thread, b.errorMessage(err, "", cl))
		return
	}
	if lines == 0 {
		b.post(ctx, c.Thread, Message{Private: true, Text: fmt.Sprintf("run %d has no output stored", id)})
		return
	}
	text := fmt.Sprintf("Full output of run %d %s: %d lines", run.ID, run.Definition, lines)
	if s := failingStep(run); s != nil {
		text += fmt.Sprintf("; step %s %s", s.Name, strings.ReplaceAll(string(s.State), "_", " "))
	}
	text += fmt.Sprintf(" (asked by %s)", c.Actor.String())
	b.post(ctx, c.Thread, Message{Text: text, File: file})
}

// outputFile is a run's whole stored output as a text file of at most
// limit bytes, and how many lines it holds. Each step's lines follow a
// heading naming the step; what does not fit is counted in a last line.
func (b *Bot) outputFile(ctx context.Context, run *dayops.Run, limit int) (*File, int, error) {
	names := map[int]string{}
	for _, s := range run.Steps {
		names[s.Index] = s.Name
	}
	ref := "dayops logs " + strconv.FormatInt(run.ID, 10)
	w := outputWriter{limit: limit, names: names, step: -1}
	var after int64
	for {
		lines, err := b.store.Logs(ctx, run.ID, after, logPage)
		if err != nil {
			return nil, 0, fmt.Errorf("reading the output of run %d: %w", run.ID, err)
		}
		for _, l := range lines {
			w.add(l)
			after = l.Seq
		}
		if len(lines) < logPage {
			break
		}
	}
	w.finish(ref)
	return &File{Name: fmt.Sprintf("run-%d-output.txt", run.ID), Content: w.buf.Bytes(), Elsewhere: ref}, w.lines, nil
}

// outputWriter writes log lines into a file of at most limit bytes,
// keeping room for the note of what it left out.
type outputWriter struct {
	buf     bytes.Buffer
	limit   int
	names   map[int]string // step names by index
	step    int            // the step of the last line written
	lines   int            // lines written
	dropped int            // lines left out
	dropB   int            // their bytes
	full    bool
}

// noteRoom is the room kept at the end of a full file for its last line.
const noteRoom = 200

// add writes one line, under a heading when its step changes.
func (w *outputWriter) add(l dayops.LogLine) {
	var s []byte
	if l.Step != w.step {
		name := w.names[l.Step]
		if name == "" {
			name = "step " + strconv.Itoa(l.Step)
		}
		if w.buf.Len() > 0 {
			s = append(s, '\n')
		}
		s = append(s, "== "+name+" ==\n"...)
	}
	if l.Stream == "stderr" {
		s = append(s, "[stderr] "...)
	}
	s = append(s, l.Text...)
	s = append(s, '\n')
	if w.full || w.buf.Len()+len(s) > w.limit-noteRoom {
		w.full = true
		w.dropped++
		w.dropB += len(l.Text) + 1
		return
	}
	w.buf.Write(s)
	w.step = l.Step
	w.lines++
}

// finish writes the note of the lines left out, if any.
func (w *outputWriter) finish(ref string) {
	if w.dropped == 0 {
		return
	}
	fmt.Fprintf(&w.buf, "\n… %d more lines (%d bytes) left out: this file stops at %d bytes; read them all with `%s`\n", w.dropped, w.dropB, w.limit, ref)
}
