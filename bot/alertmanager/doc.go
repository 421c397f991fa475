// Package alertmanager is the door of Prometheus Alertmanager: the
// webhook intake on POST /hooks/alertmanager. It checks the bearer token
// (DAYOPS_ALERTMANAGER_TOKEN) in constant time, decodes the version 4
// payload and hands each notification to the bot, which decides what it
// offers or runs. It answers 401 for a missing or wrong token, 400 for a
// malformed body and 503 when the notification could not be recorded, so
// that Alertmanager sends it again.
package alertmanager
