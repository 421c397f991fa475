package config

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/dayops/dayops"
)

// isPostgres reports a postgres:// or postgresql:// database URL.
func isPostgres(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// splitDatabase checks a database setting and takes the password out of a
// PostgreSQL URL (the user info's or a password= parameter), so that the
// URL left may be shown. A SQLite path is returned as it is.
func splitDatabase(s string) (dsn, password, problem string) {
	if !isPostgres(s) {
		return s, "", ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" && !u.Query().Has("host") {
		return "", "", fmt.Sprintf("%q is not a PostgreSQL URL: write it as postgres://USER@HOST:PORT/DATABASE?sslmode=require (the password in DAYOPS_DATABASE or PGPASSWORD)",
			dayops.NewRedactor().Redact(maskQueryPassword(s)))
	}
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			password = p
			u.User = url.User(u.User.Username())
		}
	}
	if q := u.Query(); q.Has("password") {
		if password == "" {
			password = q.Get("password")
		}
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String(), password, ""
}

// maskQueryPassword hides a password= parameter of a URL that may not parse.
func maskQueryPassword(s string) string {
	i := strings.Index(s, "password=")
	if i < 0 {
		return s
	}
	end := strings.IndexByte(s[i:], '&')
	if end < 0 {
		return s[:i] + "password=" + dayops.Mask
	}
	return s[:i] + "password=" + dayops.Mask + s[i+end:]
}

// SetDatabase makes s the database (a --database flag), keeping a
// PostgreSQL URL's password in DatabasePassword, where it is never shown.
func (c *Config) SetDatabase(s string) error {
	dsn, password, problem := splitDatabase(s)
	if problem != "" {
		return dayops.Errorf(dayops.KindInvalid, "database: %s", problem)
	}
	c.Database, c.DatabasePassword = dsn, NewSecret(password)
	return nil
}

// DatabaseURL is what opens the database: Database, with the password of
// DatabasePassword put back into a PostgreSQL URL. Never print it.
func (c *Config) DatabaseURL() string {
	if !c.DatabasePassword.IsSet() || !isPostgres(c.Database) {
		return c.Database
	}
	u, err := url.Parse(c.Database)
	if err != nil {
		return c.Database
	}
	name := ""
	if u.User != nil {
		name = u.User.Username()
	}
	u.User = url.UserPassword(name, c.DatabasePassword.Value())
	return u.String()
}
