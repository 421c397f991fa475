package executor

import (
	"context"
	"fmt"
	"maps"

	"github.com/dayops/dayops"
)

// maxRollbackSearch bounds how many earlier successful deploys Rollback looks
// through for one with different parameters.
const maxRollbackSearch = 50

// Rollback redeploys service to env with the parameters of the last
// successful deploy before the current one (the latest successful deploy),
// skipping earlier deploys of the very same parameters. The new run goes
// through the same validation and approvals as a deploy and records which run
// it rolls back.
func (e *Executor) Rollback(ctx context.Context, service, env string, who dayops.Actor, where dayops.Thread) (*dayops.Run, error) {
	cat := e.catalogs.Catalog()
	if cat == nil {
		return nil, dayops.Errorf(dayops.KindUnavailable, "no valid definitions are loaded yet: run sync and fix the errors it reports")
	}
	def, ok := cat.ForService(service)
	if !ok {
		return nil, dayops.Errorf(dayops.KindNotFound, "no day1 definition deploys service %q at revision %s", dayops.Truncate(service, 40), dayops.ShortRevision(cat.Revision()))
	}
	if err := def.CheckEnvironment(env); err != nil {
		return nil, err
	}
	where2 := env
	if where2 == "" {
		where2 = "its environment"
	}
	current, err := e.store.LastSucceeded(ctx, def.Name, env, 0)
	if err != nil {
		return nil, fmt.Errorf("finding the current deploy of %s: %w", service, err)
	}
	if current == nil {
		return nil, dayops.Errorf(dayops.KindNotFound, "nothing to roll back: %s has no successful deploy to %s", service, where2)
	}
	prev := current
	for i := 0; ; i++ {
		if i == maxRollbackSearch {
			return nil, dayops.Errorf(dayops.KindNotFound, "nothing to roll back to: the last %d successful deploys of %s to %s all had the parameters of run %d", maxRollbackSearch, service, where2, current.ID)
		}
		prev, err = e.store.LastSucceeded(ctx, def.Name, env, prev.ID)
		if err != nil {
			return nil, fmt.Errorf("finding an earlier deploy of %s: %w", service, err)
		}
		if prev == nil {
			return nil, dayops.Errorf(dayops.KindNotFound, "nothing to roll back to: run %d is the only successful deploy of %s to %s with its parameters", current.ID, service, where2)
		}
		if !maps.Equal(prev.Params, current.Params) {
			break
		}
	}
	run, err := e.Start(ctx, dayops.RunRequest{Definition: def.Name, Environment: env, Params: prev.Params,
		Actor: who, Thread: where, Trigger: dayops.TriggerChat, RollbackOf: current.ID})
	if err != nil {
		if k := dayops.KindOf(err); k == dayops.KindInvalid {
			return nil, dayops.Errorf(k, "the parameters of run %d no longer fit %s: %s", prev.ID, def.Name, dayops.UserMessage(err, ""))
		}
		return nil, err
	}
	return run, nil
}
