package config

import (
	"fmt"
	"io"
	"log/slog"
)

// Secret is a credential read from the environment. Printing it in any way —
// fmt with any verb, JSON, YAML, slog — shows only whether it is set; Value
// is the one way to the value.
type Secret struct {
	value string
}

// NewSecret wraps a value as a Secret.
func NewSecret(value string) Secret { return Secret{value: value} }

// Value is the secret itself, for the code that uses it.
func (s Secret) Value() string { return s.value }

// IsSet reports whether the secret has a value.
func (s Secret) IsSet() bool { return s.value != "" }

// String is "[set]" or "[unset]", never the value.
func (s Secret) String() string {
	if s.IsSet() {
		return "[set]"
	}
	return "[unset]"
}

// GoString is String, so that %#v does not show the value either.
func (s Secret) GoString() string { return s.String() }

// Format writes String for every verb, so that no verb (%x, %d, %q…)
// reaches the value.
func (s Secret) Format(f fmt.State, verb rune) { io.WriteString(f, s.String()) }

// MarshalText is String, for encoders that use it (JSON map values, YAML).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue is String, for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
