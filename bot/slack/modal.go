package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/slack-go/slack"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
)

// Parameter forms as modals. A slash command that lacks a run's required
// parameters, and a Run button, open a modal at once with the trigger_id
// Slack gave (it is good for 3 s): a "loading" view, filled in
// (views.update) when the bot answers with Message.Form. Its submission is
// checked by the bot (bot.CheckForm), errors are shown on their fields
// (response_action: errors), and a valid one starts the run through
// bot.SubmitForm in the channel and thread the form came from, which its
// private_metadata carries.

// formCallbackID marks dayops's form views in view_submission payloads.
const formCallbackID = "dayops_form"

// sourceForm is the Deliveries source of form submissions (one per view).
const sourceForm = "slack-form"

// Block Kit's modal limits: a title of 24 characters, 100 blocks, 3,000
// characters of private_metadata; labels and hints of 2,000, options of 75
// (100 per select), option values of 150.
const (
	maxModalTitle  = 24
	maxModalBlocks = 100
	maxMetadata    = 3000
	maxLabel       = 2000
	maxOptionText  = 75
	maxOptions     = 100
	maxOptionValue = 150
)

// fieldActionID is the action ID of every form field's element; its block
// ID is fieldBlockPrefix + the field's name.
const (
	fieldActionID    = "value"
	fieldBlockPrefix = "f."
)

// modalKey marks a context as one that may answer in a modal.
type modalKey struct{}

// modal is the modal of one request: the trigger_id that may open it, and
// the view once it is open.
type modal struct {
	mu      sync.Mutex
	trigger string
	viewID  string
	opened  bool // the trigger was used (it is good once)
}

// withModal is ctx with a modal that trigger may open.
func withModal(ctx context.Context, trigger string) (context.Context, *modal) {
	m := &modal{trigger: trigger}
	return context.WithValue(ctx, modalKey{}, m), m
}

// modalOf is the modal of ctx; nil when none.
func modalOf(ctx context.Context) *modal {
	m, _ := ctx.Value(modalKey{}).(*modal)
	return m
}

// formMeta is what a form's view carries to its submission.
type formMeta struct {
	Channel     string         `json:"c"`
	ChannelName string         `json:"n,omitempty"`
	Thread      string         `json:"t,omitempty"`
	Definition  string         `json:"d"`
	Environment string         `json:"e,omitempty"`
	Trigger     dayops.Trigger `json:"g,omitempty"`
}

func plain(s string, n int) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, cut(s, n), false, false)
}

// textView is a modal that only says text: the loading view, or an answer
// that is not a form (a refusal, a stale button).
func textView(text string) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type: slack.VTModal, Title: plain("dayops", maxModalTitle), Close: plain("Close", maxModalTitle),
		Blocks: slack.Blocks{BlockSet: []slack.Block{section(cut(escape(text), maxSection))}},
	}
}

// loadingText is what a modal shows until the bot answers.
const loadingText = "Loading the form…"

// openLoading opens the loading view with trigger at once, and returns the
// context in which the bot's answer fills it in.
func (d *Door) openLoading(ctx context.Context, trigger string) context.Context {
	ctx, m := withModal(ctx, trigger)
	if trigger == "" {
		return ctx
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.opened = true
	resp, err := d.api.OpenViewContext(ctx, trigger, textView(loadingText))
	if err != nil {
		d.log.Warn("opening a slack modal", "err", apiError(err))
		return ctx
	}
	m.viewID = resp.ID
	return ctx
}

// formView is the modal of a form posted in thread t.
func formView(f bot.Form, t dayops.Thread) (slack.ModalViewRequest, error) {
	meta, err := json.Marshal(formMeta{Channel: t.Channel, ChannelName: t.Name, Thread: t.ID,
		Definition: f.Definition, Environment: f.Environment, Trigger: f.Trigger})
	if err != nil {
		return slack.ModalViewRequest{}, err
	}
	if len(meta) > maxMetadata {
		return slack.ModalViewRequest{}, fmt.Errorf("form metadata is %d bytes long; Slack takes %d", len(meta), maxMetadata)
	}
	head := "*" + escape(f.Title) + "*"
	if f.Instructions != "" {
		head += "\n" + escape(f.Instructions)
	}
	blocks := []slack.Block{section(cut(head, maxSection))}
	if len(f.Fields) > maxModalBlocks-1 {
		return slack.ModalViewRequest{}, fmt.Errorf("form of %s has %d fields; a Slack modal holds %d", f.Definition, len(f.Fields), maxModalBlocks-1)
	}
	for _, ff := range f.Fields {
		b, err := fieldBlock(ff)
		if err != nil {
			return slack.ModalViewRequest{}, err
		}
		blocks = append(blocks, b)
	}
	return slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: formCallbackID, PrivateMetadata: string(meta),
		Title: plain("Run "+f.Definition, maxModalTitle), Submit: plain("Run", maxModalTitle), Close: plain("Cancel", maxModalTitle),
		Blocks: slack.Blocks{BlockSet: blocks},
	}, nil
}

// fieldBlock is one form field as an input block: a select for a choice, a
// checkbox for a bool, a line of text with the description as hint and the
// default as initial value for the rest.
func fieldBlock(ff bot.FormField) (*slack.InputBlock, error) {
	var el slack.BlockElement
	optional := !ff.Required
	switch ff.Kind {
	case bot.FieldChoice:
		if len(ff.Choices) > maxOptions {
			return nil, fmt.Errorf("%s has %d choices; a Slack select holds %d", ff.Name, len(ff.Choices), maxOptions)
		}
		var opts []*slack.OptionBlockObject
		var initial *slack.OptionBlockObject
		for _, c := range ff.Choices {
			if len(c) > maxOptionValue {
				return nil, fmt.Errorf("a choice of %s is %d bytes long; a Slack option value holds %d", ff.Name, len(c), maxOptionValue)
			}
			o := slack.NewOptionBlockObject(c, plain(c, maxOptionText), nil)
			if c == ff.Initial {
				initial = o
			}
			opts = append(opts, o)
		}
		sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose", maxOptionText), fieldActionID, opts...)
		if initial != nil {
			sel = sel.WithInitialOption(initial)
		}
		el = sel
	case bot.FieldBool:
		o := slack.NewOptionBlockObject("true", plain("yes", maxOptionText), nil)
		cb := slack.NewCheckboxGroupsBlockElement(fieldActionID, o)
		if v, err := strconv.ParseBool(ff.Initial); err == nil && v {
			cb.InitialOptions = []*slack.OptionBlockObject{o}
		}
		el, optional = cb, true // unchecked is false, an answer too
	default:
		in := slack.NewPlainTextInputBlockElement(nil, fieldActionID)
		in.InitialValue = ff.Initial
		in.MaxLength = dayops.MaxParamLength
		el = in
	}
	var hint *slack.TextBlockObject
	if ff.Hint != "" {
		hint = plain(ff.Hint, maxLabel)
	}
	b := slack.NewInputBlock(fieldBlockPrefix+ff.Name, plain(ff.Label, maxLabel), hint, el)
	b.Optional = optional
	return b, nil
}

// showModal answers in the request's modal: a form fills it in (or opens
// it, while its trigger is good), a private answer replaces the loading
// view. It reports false when the answer must go the usual way.
func (d *Door) showModal(ctx context.Context, t dayops.Thread, m bot.Message) bool {
	md := modalOf(ctx)
	if md == nil || (m.Form == nil && !m.Private) {
		return false
	}
	md.mu.Lock()
	defer md.mu.Unlock()
	var view slack.ModalViewRequest
	switch {
	case m.Form != nil:
		v, err := formView(*m.Form, t)
		if err != nil {
			d.log.Warn("drawing a form as a slack modal", "definition", m.Form.Definition, "err", err)
			if md.viewID == "" {
				return false // the text says what to type
			}
			v = textView(m.Text)
		}
		view = v
	case md.viewID != "":
		view = textView(m.Text)
	default:
		return false
	}
	if md.viewID != "" {
		if _, err := d.api.UpdateViewContext(ctx, view, "", "", md.viewID); err != nil {
			d.log.Warn("filling in a slack modal", "err", apiError(err))
			return false
		}
		return true
	}
	if md.opened || md.trigger == "" {
		return false
	}
	md.opened = true
	resp, err := d.api.OpenViewContext(ctx, md.trigger, view)
	if err != nil {
		d.log.Warn("opening a slack modal", "err", apiError(err))
		return false
	}
	md.viewID = resp.ID
	return true
}

// formValues reads a submitted form's values by field name.
func formValues(state *slack.ViewState) map[string]string {
	values := map[string]string{}
	if state == nil {
		return values
	}
	for block, actions := range state.Values {
		name, ok := strings.CutPrefix(block, fieldBlockPrefix)
		a, has := actions[fieldActionID]
		if !ok || !has {
			continue
		}
		switch a.Type {
		case slack.ActionType(slack.OptTypeStatic):
			values[name] = a.SelectedOption.Value
		case slack.ActionType(slack.METCheckboxGroups):
			values[name] = strconv.FormatBool(len(a.SelectedOptions) > 0)
		default:
			values[name] = a.Value
		}
	}
	return values
}

// viewSubmitted answers a view_submission: the errors on their fields, or
// nothing (the modal closes) and the work that starts the run.
func (d *Door) viewSubmitted(cb slack.InteractionCallback) (answer any, work func(ctx context.Context)) {
	if cb.View.CallbackID != formCallbackID {
		d.log.Info("slack view submission of a view dayops did not open", "callback_id", cb.View.CallbackID)
		return nil, nil
	}
	if cb.User.ID == "" {
		d.log.Warn("slack view submission without a user", "view", cb.View.ID)
		return nil, nil
	}
	var meta formMeta
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta); err != nil || meta.Channel == "" || meta.Definition == "" {
		d.log.Warn("slack form without its metadata", "view", cb.View.ID, "err", err)
		return slack.NewUpdateViewSubmissionResponse(ptr(textView("This form lost where it came from; type the command instead. Nothing was started."))), nil
	}
	fv := bot.FormValues{Definition: meta.Definition, Environment: meta.Environment, Values: formValues(cb.View.State)}
	if problems := d.bot.CheckForm(fv); len(problems) > 0 {
		if whole := problems[""]; whole != "" {
			return slack.NewUpdateViewSubmissionResponse(ptr(textView(whole + ". Nothing was started."))), nil
		}
		errs := map[string]string{}
		for name, msg := range problems {
			errs[fieldBlockPrefix+name] = cut(msg, maxLabel)
		}
		return slack.NewErrorsViewSubmissionResponse(errs), nil
	}
	user, name := cb.User.ID, cb.User.Name
	if name == "" {
		name = cb.User.Username
	}
	viewID := cb.View.ID
	return nil, func(ctx context.Context) {
		if viewID != "" && !d.firstDelivery(ctx, sourceForm, viewID) {
			return
		}
		th := dayops.Thread{Door: DoorName, Channel: meta.Channel, Name: meta.ChannelName, ID: meta.Thread}
		if th.ID == "" {
			th.ID = d.formRoot(ctx, meta.Channel, user, fv)
		}
		d.bot.SubmitForm(withAsker(ctx, user, ""), dayops.Actor{ID: "slack:" + user, Name: name}, th, meta.Trigger, fv)
	}
}

// formRoot posts the root message a run from a slash command's form is
// threaded under, as a typed command gets one; "" when Slack refuses.
func (d *Door) formRoot(ctx context.Context, channel, user string, fv bot.FormValues) string {
	cmd := fv.Command()
	quoted := d.redactor.Redact(strings.ReplaceAll(cmd.Text, "`", "'"))
	root := fmt.Sprintf("<@%s> asked: `%s %s`", user, escape(d.prefix), escape(quoted))
	_, ts, err := d.api.PostMessageContext(ctx, channel, slack.MsgOptionText(cut(root, maxSection), false), slack.MsgOptionDisableLinkUnfurl())
	if err != nil {
		d.log.Warn("posting the root message of a form", "err", apiError(err))
		return ""
	}
	return ts
}

// answerViewSubmission is the HTTP answer to a view_submission.
func (d *Door) answerViewSubmission(w http.ResponseWriter, cb slack.InteractionCallback) {
	answer, work := d.viewSubmitted(cb)
	if work != nil && !d.goWork(work) {
		unavailable(w)
		return
	}
	if answer == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(answer)
}

func ptr[T any](v T) *T { return &v }
