package gitsync

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/dayops/dayops"
)

// keyRing is the armored PGP public keys whose signatures are trusted.
type keyRing struct {
	path    string
	armored string
	keys    int
}

// readKeyRing reads and checks a file of armored PGP public keys, so that a
// bad file stops the server at start rather than stalling every revision.
func readKeyRing(path string) (*keyRing, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, dayops.Errorf(dayops.KindInvalid, "reading the signing keys %s: %v", path, err)
	}
	ring, err := openpgp.ReadArmoredKeyRing(strings.NewReader(string(b)))
	if err != nil {
		return nil, dayops.Errorf(dayops.KindInvalid, "the signing keys file %s is not an armored PGP public key ring (gpg --export --armor KEYID): %v", path, err)
	}
	if len(ring) == 0 {
		return nil, dayops.Errorf(dayops.KindInvalid, "the signing keys file %s holds no key", path)
	}
	return &keyRing{path: path, armored: string(b), keys: len(ring)}, nil
}

// verify checks that c carries one valid signature by a trusted key. The
// problem it returns reads like a validation error, because an untrusted
// head is stalled like an invalid one.
func (k *keyRing) verify(c *object.Commit) error {
	untrusted := func(why string) error {
		return dayops.Errorf(dayops.KindInvalid, "commit %s is not signed by a trusted key: %s", dayops.ShortRevision(c.Hash.String()), why)
	}
	if strings.TrimSpace(c.PGPSignature) == "" {
		return untrusted("it has no signature; sign commits to the ops repo (git commit -S) with a key listed in " + k.path)
	}
	if _, err := c.Verify(k.armored); err != nil {
		if errors.Is(err, object.ErrMultipleSignatures) {
			return untrusted("it has more than one signature")
		}
		return untrusted(fmt.Sprintf("the signature does not verify against the %d trusted key(s) (%v)", k.keys, err))
	}
	return nil
}
