package bot

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/commands"
)

// Parameter forms. A run asked for without its required parameters (typed,
// or from a Run button, which always asks) is answered with a Message whose
// Form describes what to fill in. A door that can show forms (Slack's
// modals) shows a field per parameter, checks the values with CheckForm
// and submits them as the Command of FormValues.Command; every other door
// shows the message's Text, which says what is missing and how to type it.

// FieldKind is how a door draws a form field.
type FieldKind string

// The kinds of form fields.
const (
	FieldText   FieldKind = "text"   // a line of text
	FieldChoice FieldKind = "choice" // one of Choices
	FieldBool   FieldKind = "bool"   // a checkbox: "true" or "false"
)

// FormEnvironment is the name of the field that asks for the environment,
// when the form asks for it. Parameter names cannot contain a dot.
const FormEnvironment = "dayops.environment"

// Form is what a run needs filled in before it can start.
type Form struct {
	Definition   string
	Title        string         // "deploy-web staging"
	Environment  string         // "" when the form asks for it (a FormEnvironment field)
	Trigger      dayops.Trigger // what brought the run: a door echoes it with the values
	Fields       []FormField
	Instructions string // one line above the fields
}

// FormField is one value of a Form.
type FormField struct {
	Name     string // the parameter's name, or FormEnvironment
	Label    string
	Hint     string // the parameter's description
	Kind     FieldKind
	Choices  []string // FieldChoice only
	Initial  string   // what was given, or the default
	Required bool
}

// FormValues is a filled-in form as a door gives it back.
type FormValues struct {
	Definition  string
	Environment string            // "" when it is among Values (FormEnvironment)
	Values      map[string]string // by field name; a bool field "true" or "false"
}

// formFor is the form of def in env, filled in with given (or defaults).
func (b *Bot) formFor(def *dayops.Definition, env string, given map[string]string, trigger dayops.Trigger) *Form {
	f := &Form{Definition: def.Name, Title: strings.TrimSpace(def.Name + " " + env), Environment: env, Trigger: trigger}
	f.Instructions = def.Description
	if env == "" && len(def.Environments) > 0 {
		f.Fields = append(f.Fields, FormField{Name: FormEnvironment, Label: "Environment", Kind: FieldChoice,
			Choices: def.EnvironmentNames(), Required: true})
	}
	given = paramsFor(def, given)
	for _, p := range def.Params {
		ff := FormField{Name: p.Name, Label: p.Name, Hint: p.Description, Kind: FieldText, Required: p.Required && !p.HasDefault}
		switch p.Type {
		case dayops.ParamChoice:
			ff.Kind, ff.Choices = FieldChoice, p.Choices
		case dayops.ParamBool:
			ff.Kind = FieldBool
		}
		if p.HasDefault {
			ff.Initial = p.Default
		}
		if v, ok := given[p.Name]; ok {
			ff.Initial = v
		}
		f.Fields = append(f.Fields, ff)
	}
	return f
}

// missingParams are the required parameters of def that given lacks; none
// when given names a parameter def does not declare: a form would drop it,
// so the start refuses the command with the definition's own words.
func missingParams(def *dayops.Definition, given map[string]string) []string {
	given = paramsFor(def, given)
	for name := range given {
		if _, ok := def.Param(name); !ok {
			return nil
		}
	}
	var missing []string
	for _, p := range def.Params {
		if _, ok := given[p.Name]; !ok && p.Required && !p.HasDefault {
			missing = append(missing, p.Name)
		}
	}
	return missing
}

// formAnswer is the answer to a run that needs a form: nil when it needs
// none (all required parameters are there and the run was typed). Only
// people fill in forms: an automated trigger's run goes on to the engine,
// which refuses it with the same words.
func (b *Bot) formAnswer(c *call, def *dayops.Definition, env string, params map[string]string) *Message {
	if c.trigger != dayops.TriggerChat && c.trigger != dayops.TriggerButton {
		return nil
	}
	missing := missingParams(def, params)
	if len(missing) == 0 && !c.askForm {
		return nil
	}
	example := b.prefix + " run " + def.Name
	if env != "" {
		example += " " + env
	} else if len(def.Environments) > 0 {
		example += " ENV"
	}
	for _, p := range def.Params {
		if p.Required && !p.HasDefault {
			example += " " + p.Name + "=VALUE"
		}
	}
	text := fmt.Sprintf("%s needs %s: type %s", strings.TrimSpace(def.Name+" "+env), strings.Join(missing, ", "), example)
	if len(missing) == 0 {
		text = fmt.Sprintf("to run %s, type: %s", strings.TrimSpace(def.Name+" "+env), example)
	}
	return &Message{Text: b.redact(text), Form: b.formFor(def, env, params, c.trigger), Private: true}
}

// WantsForm reports whether typed text asks for a run that lacks a required
// parameter, so that a door can open a form at once (Slack allows 3 s from
// the command) and fill it in when Submit answers with Message.Form. It
// decides nothing: Submit authorises and answers as usual.
func (b *Bot) WantsForm(text string) bool {
	res := commands.Grammar{Prefix: b.prefix}.Parse(text)
	if res.Command == nil {
		return false
	}
	cmd := res.Command
	var def *dayops.Definition
	params := maps.Clone(cmd.Params)
	switch cmd.Verb {
	case commands.VerbRun:
		def, _ = b.catalog().Lookup(cmd.Name)
	case commands.VerbDeploy:
		def, _ = b.catalog().ForService(cmd.Service)
		if cmd.Version != "" {
			if params == nil {
				params = map[string]string{}
			}
			params["version"] = cmd.Version
		}
	}
	return def != nil && def.CheckEnvironment(cmd.Environment) == nil && len(missingParams(def, params)) > 0
}

// CheckForm checks filled-in values the way a run's start checks them
// (dayops.Param.Check, the definition's own rules) and returns the problems
// by field name; "" holds a problem of the form as a whole (its definition
// is gone, or its environment). It starts nothing.
func (b *Bot) CheckForm(v FormValues) map[string]string {
	def, err := b.definition(v.Definition)
	if err != nil {
		return map[string]string{"": dayops.UserMessage(err, "")}
	}
	problems := map[string]string{}
	env := v.Environment
	if env == "" && len(def.Environments) > 0 {
		env = v.Values[FormEnvironment]
		if err := checkEnvironment(def, env); err != nil {
			problems[FormEnvironment] = dayops.UserMessage(err, "")
		}
	} else if err := checkEnvironment(def, env); err != nil {
		problems[""] = dayops.UserMessage(err, "")
	}
	for _, p := range def.Params {
		val, ok := v.Values[p.Name]
		switch {
		case (!ok || val == "") && p.Required && !p.HasDefault:
			problems[p.Name] = "required: " + paramHint(p)
		case !ok || val == "":
		default:
			if _, err := p.Check(val); err != nil {
				problems[p.Name] = strings.TrimPrefix(dayops.UserMessage(err, ""), "parameter "+p.Name+": ")
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return problems
}

// paramHint says what a parameter takes.
func paramHint(p dayops.Param) string {
	switch {
	case p.Type == dayops.ParamChoice:
		return "one of " + strings.Join(p.Choices, ", ")
	case p.Pattern != nil:
		return "a value matching " + p.Pattern.String()
	case p.Description != "":
		return p.Description
	}
	return "a " + string(p.Type) + " value"
}

// Command is the command a filled-in form stands for: run DEFINITION ENV
// with the values given (empty ones left out: the definition's defaults
// apply).
func (v FormValues) Command() *commands.Command {
	env := v.Environment
	params := map[string]string{}
	for k, val := range v.Values {
		switch {
		case k == FormEnvironment:
			if env == "" {
				env = val
			}
		case val != "":
			params[k] = val
		}
	}
	text := strings.TrimSpace("run " + v.Definition + " " + env)
	if len(params) > 0 {
		text += " " + dayops.FormatParams(params)
	} else {
		params = nil
	}
	return &commands.Command{Verb: commands.VerbRun, Name: v.Definition, Environment: env, Params: params, Text: text}
}

// SubmitForm starts the run of a filled-in form, through Submit: the values
// are checked again and the asker authorised as for typed text.
func (b *Bot) SubmitForm(ctx context.Context, who dayops.Actor, where dayops.Thread, trigger dayops.Trigger, v FormValues) {
	if trigger == "" {
		trigger = dayops.TriggerChat
	}
	b.Submit(ctx, Submission{Actor: who, Thread: where, Trigger: trigger, Command: v.Command()})
}

// redactForm masks the texts of a form: an initial value typed or stored
// before may hold a secret.
func (b *Bot) redactForm(f *Form) *Form {
	if f == nil {
		return nil
	}
	cp := *f
	cp.Title, cp.Instructions = b.redact(cp.Title), b.redact(cp.Instructions)
	cp.Fields = slices.Clone(cp.Fields)
	for i := range cp.Fields {
		cp.Fields[i].Hint, cp.Fields[i].Initial = b.redact(cp.Fields[i].Hint), b.redact(cp.Fields[i].Initial)
	}
	return &cp
}
