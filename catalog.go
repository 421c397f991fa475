package dayops

import (
	"fmt"
	"slices"
	"strings"
)

// Catalog is an immutable, validated set of definitions at one revision.
// A new revision gets a new Catalog; readers keep the one they took.
type Catalog struct {
	revision string
	defs     []*Definition // sorted by name
	byName   map[string]*Definition
}

// NewCatalog builds a catalog. It refuses duplicate names and two day1
// definitions for one service; full validation is the loader's job.
func NewCatalog(revision string, defs []*Definition) (*Catalog, error) {
	c := &Catalog{revision: revision, byName: make(map[string]*Definition, len(defs))}
	services := map[string]string{}
	for _, d := range defs {
		if prev, ok := c.byName[d.Name]; ok {
			return nil, Errorf(KindInvalid, "definition %s is defined twice: %s and %s", d.Name, prev.Source.File, d.Source.File)
		}
		if d.Phase == Day1 && d.Service != "" {
			if other, ok := services[d.Service]; ok {
				return nil, Errorf(KindInvalid, "service %s is deployed by two definitions: %s and %s", d.Service, other, d.Name)
			}
			services[d.Service] = d.Name
		}
		c.byName[d.Name] = d
		c.defs = append(c.defs, d)
	}
	slices.SortFunc(c.defs, func(a, b *Definition) int { return strings.Compare(a.Name, b.Name) })
	return c, nil
}

// Revision is the ops-repo revision the catalog was loaded from.
func (c *Catalog) Revision() string {
	if c == nil {
		return ""
	}
	return c.revision
}

// Len is the number of definitions.
func (c *Catalog) Len() int {
	if c == nil {
		return 0
	}
	return len(c.defs)
}

// All returns every definition, sorted by name.
func (c *Catalog) All() []*Definition {
	if c == nil {
		return nil
	}
	return slices.Clone(c.defs)
}

// Names returns every definition name, sorted.
func (c *Catalog) Names() []string {
	if c == nil {
		return nil
	}
	names := make([]string, len(c.defs))
	for i, d := range c.defs {
		names[i] = d.Name
	}
	return names
}

// Lookup returns the named definition.
func (c *Catalog) Lookup(name string) (*Definition, bool) {
	if c == nil {
		return nil, false
	}
	d, ok := c.byName[name]
	return d, ok
}

// Get returns the named definition or a not_found error naming the closest
// names, so a door can say "did you mean".
func (c *Catalog) Get(name string) (*Definition, error) {
	if d, ok := c.Lookup(name); ok {
		return d, nil
	}
	return nil, &Error{Kind: KindNotFound, Message: fmt.Sprintf("no definition named %q at revision %s", Truncate(name, 60), ShortRevision(c.Revision()))}
}

// ForService returns the day1 definition that deploys service.
func (c *Catalog) ForService(service string) (*Definition, bool) {
	if c == nil {
		return nil, false
	}
	for _, d := range c.defs {
		if d.Phase == Day1 && d.Service == service {
			return d, true
		}
	}
	return nil, false
}

// Services returns the services that have a day1 definition, sorted.
func (c *Catalog) Services() []string {
	var out []string
	for _, d := range c.ByPhase(Day1) {
		if d.Service != "" {
			out = append(out, d.Service)
		}
	}
	slices.Sort(out)
	return out
}

// ByPhase returns the definitions of one phase, sorted by name.
func (c *Catalog) ByPhase(p Phase) []*Definition {
	if c == nil {
		return nil
	}
	var out []*Definition
	for _, d := range c.defs {
		if d.Phase == p {
			out = append(out, d)
		}
	}
	return out
}

// ShortRevision shortens a commit SHA or content hash for display.
func ShortRevision(rev string) string {
	if r, ok := strings.CutPrefix(rev, "sha256:"); ok {
		if len(r) > 12 {
			r = r[:12]
		}
		return "sha256:" + r
	}
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
