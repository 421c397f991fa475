package main

import (
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/dayops/dayops"
)

// heldSecrets are the secrets dayops was started with: DAYOPS_SECRET_* and
// every DAYOPS_ variable whose name says it holds a credential. holdSecrets
// takes them out of the process's environment at start, so that they reach a
// step only as the secrets it declares.
var heldSecrets map[string]string

// isSecretVar reports whether environment variable name holds a credential:
// DAYOPS_SECRET_*, and any DAYOPS_ variable with TOKEN, SECRET, PASSWORD or
// KEY in its name (DAYOPS_SLACK_BOT_TOKEN, DAYOPS_WEB_PASSWORD,
// DAYOPS_WEB_LINK_KEY, an SSH key_env such as DAYOPS_SSH_KEY_WEB).
func isSecretVar(name string) bool {
	rest, ok := strings.CutPrefix(name, "DAYOPS_")
	if !ok {
		return false
	}
	for _, w := range []string{"SECRET", "TOKEN", "PASSWORD", "KEY"} {
		if strings.Contains(rest, w) {
			return true
		}
	}
	return false
}

// holdSecrets moves the secrets out of the environment into heldSecrets,
// wipes them from the environment block the process was started with (what
// /proc/PID/environ shows), and makes the process non-dumpable, so that a
// process of the same user — a step — can read neither its environment nor
// its memory. It must run before anything else in main.
func holdSecrets() {
	held := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if isSecretVar(k) {
			held[k] = strings.Clone(v)
		}
	}
	for k := range held {
		os.Unsetenv(k)
	}
	heldSecrets = held
	wipeStartEnvironment(slices.Collect(maps.Keys(held)))
	protectProcess()
}

// getenv is os.Getenv that also sees the held secrets.
func getenv(name string) string {
	if v, ok := heldSecrets[name]; ok {
		return v
	}
	return os.Getenv(name)
}

// stepSecrets are the values of DAYOPS_SECRET_<NAME>, by NAME. A value
// shorter than dayops.MinSecretLength (white space aside) is refused: it
// could not be masked in output without masking ordinary text.
func stepSecrets() (map[string]string, error) {
	out := envWithPrefix("DAYOPS_SECRET_")
	for _, name := range slices.Sorted(maps.Keys(out)) {
		if n := len(strings.TrimSpace(out[name])); n < dayops.MinSecretLength {
			return nil, dayops.Errorf(dayops.KindInvalid,
				"DAYOPS_SECRET_%s is %d characters long: a secret needs at least %d, or dayops could not mask it in output without masking ordinary text; set a longer value or unset it",
				name, n, dayops.MinSecretLength)
		}
	}
	return out, nil
}

// envWithPrefix collects NAME→value from variables PREFIX_NAME, held
// secrets included.
func envWithPrefix(prefix string) map[string]string {
	out := map[string]string{}
	add := func(k, v string) {
		if name, ok := strings.CutPrefix(k, prefix); ok && name != "" {
			out[name] = v
		}
	}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		add(k, v)
	}
	for k, v := range heldSecrets {
		add(k, v)
	}
	return out
}
