package main

import (
	"context"
	"sync"

	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/alertmanager"
)

// registerAlertmanager wires POST /hooks/alertmanager: Alertmanager's
// webhook, checked against DAYOPS_ALERTMANAGER_TOKEN, into the bot. Without
// the token every request is refused with 401. It returns what stops the
// intake taking notifications.
func registerAlertmanager(d doorDeps) (stop func(), err error) {
	token := d.cfg.AlertmanagerToken.Value()
	intake, err := alertmanager.New(alertmanager.Options{Token: token, Pipeline: d.bot, Logger: d.log})
	if err != nil {
		return nil, err
	}
	d.mux.Handle("POST "+alertmanager.Path, intake)
	if token == "" {
		d.log.Info("alertmanager: no DAYOPS_ALERTMANAGER_TOKEN, so every alert is refused", "path", alertmanager.Path)
	} else {
		d.log.Info("alertmanager door: webhooks", "path", alertmanager.Path, "notify_channel", d.cfg.Slack.NotifyChannel)
	}
	return intake.Close, nil
}

// startScheduler fires the catalog's schedule triggers (in
// schedule.timezone) every minute until the returned stop is called; stop
// waits for a tick under way.
func startScheduler(ctx context.Context, d doorDeps) (stop func(), err error) {
	sched, err := bot.NewScheduler(bot.SchedulerOptions{Bot: d.bot, Store: d.store, Location: d.cfg.Timezone, Logger: d.log})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); sched.Run(ctx) }()
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }, nil
}
