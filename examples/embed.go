// Package examples holds the example ops repo that `dayops demo` unpacks and
// runs: Day-0 preflight and provision-env, Day-1 deploy-web, and the Day-2
// runbooks restart-web, backup-db, restore-db, diagnose-web and rotate-logs.
// The definitions work on plain folders under vars.ENVS_DIR and verify
// deploys against the health endpoint the demo serves at vars.DEMO_URL, so
// they need no cloud account and leave nothing running. ops/README.md
// describes the conventions the scripts follow.
package examples

import "embed"

// Ops is the example ops repo; its root is the folder "ops", so open files as
// "ops/day1/deploy-web.yaml" or use fs.Sub(Ops, "ops").
//
// An embedded file keeps no mode bits (every file reads as 0444), so whoever
// writes Ops to disk must make ops/scripts/*.sh executable again (0755): the
// definitions call them as ./scripts/NAME.sh.
//
//go:embed all:ops
var Ops embed.FS
