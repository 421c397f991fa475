package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/config"
	"github.com/dayops/dayops/storage"
	"github.com/dayops/dayops/web"
)

// definitionsAt reads a definition at a revision of the ops repo; the
// gitsync Syncer implements it.
type definitionsAt interface {
	DefinitionAt(ctx context.Context, revision, name string) (*dayops.Definition, error)
}

// startWeb makes the run pages of a server and registers them on mux.
func startWeb(cfg *config.Config, store *storage.Store, defs definitionsAt, events dayops.Events, redactor *dayops.Redactor, mux *http.ServeMux, logger *slog.Logger) (*web.Server, error) {
	var key []byte
	if cfg.Web.LinkKey.IsSet() {
		key = []byte(cfg.Web.LinkKey.Value())
	}
	w, err := web.New(web.Options{
		Store: store, Events: events, Changes: runChanges(store, defs), Redactor: redactor,
		BaseURL: cfg.BaseURL, LinkKey: key, LinkTTL: cfg.Web.LinkTTL,
		ProxyHeader: cfg.Web.ProxyHeader, TrustedProxies: cfg.Web.TrustedProxies, Password: cfg.Web.Password.Value(),
		Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	w.Routes(mux)
	return w, nil
}

// runChanges is what changed in a run's definition between the last
// successful run of it in the same environment before it and the run's own
// revision.
func runChanges(store *storage.Store, defs definitionsAt) web.Changes {
	return func(ctx context.Context, run *dayops.Run) (since, diff string, err error) {
		last, err := store.LastSucceeded(ctx, run.Definition, run.Environment, run.ID)
		if err != nil || last == nil || last.Revision == run.Revision || last.Revision == "" || run.Revision == "" {
			return "", "", err
		}
		old, err := defs.DefinitionAt(ctx, last.Revision, run.Definition)
		if err != nil {
			return "", "", err
		}
		cur, err := defs.DefinitionAt(ctx, run.Revision, run.Definition)
		if err != nil {
			return "", "", err
		}
		return last.Revision, dayops.UnifiedDiff(
			old.Source.File+"@"+dayops.ShortRevision(last.Revision), cur.Source.File+"@"+dayops.ShortRevision(run.Revision),
			old.Source.Content, cur.Source.Content, 3), nil
	}
}
