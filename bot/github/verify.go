package github

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// signaturePrefix starts an X-Hub-Signature-256 header: the HMAC-SHA256 of
// the raw body with the webhook secret, in hex. The older X-Hub-Signature
// (SHA-1) is never accepted.
const signaturePrefix = "sha256="

// errBadSignature is a request refused with 401; its text says why (for the
// log, and for the sender: it reveals nothing about the secret).
type errBadSignature struct{ why string }

func (e errBadSignature) Error() string { return "bad webhook signature: " + e.why }

// verify checks header, an X-Hub-Signature-256 value, against body.
func verify(secret, header string, body []byte) error {
	if secret == "" {
		// An empty key is a key anyone has.
		return errBadSignature{"no webhook secret configured (DAYOPS_GITHUB_WEBHOOK_SECRET): dayops takes no webhooks"}
	}
	if header == "" {
		return errBadSignature{"missing X-Hub-Signature-256 (set a secret on the webhook in GitHub)"}
	}
	got, ok := strings.CutPrefix(header, signaturePrefix)
	if !ok {
		return errBadSignature{"X-Hub-Signature-256 does not start with sha256="}
	}
	sig, err := hex.DecodeString(got)
	if err != nil || len(sig) != sha256.Size {
		return errBadSignature{"X-Hub-Signature-256 is not a hex SHA-256 HMAC"}
	}
	if !hmac.Equal(sig, sign(secret, body)) {
		return errBadSignature{"signature does not match the body (is the webhook secret the same on both sides?)"}
	}
	return nil
}

// sign is the HMAC-SHA256 of body with secret.
func sign(secret string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

// Signature is the X-Hub-Signature-256 value GitHub sends for body: for
// tests and the bench, which sign deliveries the way GitHub does.
func Signature(secret string, body []byte) string {
	return signaturePrefix + hex.EncodeToString(sign(secret, body))
}
