// Package web serves the run pages of dayops: /runs (the run list, filtered
// and paged) and /runs/{id} (one run: who asked and approved, its parameters,
// the definition's changes since its last success, every step, and its log
// with a live tail through server-sent events). Pages are rendered on the
// server with html/template; a little plain JavaScript follows the live log.
//
// /insights draws the four DORA figures of the deploys (dayops.ComputeInsights)
// per service and environment as SVG bar charts made on the server; it
// needs a login, like the run list.
//
// Metrics are what GET /metrics reports (Prometheus's text format): the
// database's figures read at each scrape, step durations and lock waits from
// the run events, the doors' API calls counted at their HTTP clients, and the
// time the server takes to answer, by route. A scraper sends a bearer token;
// without one configured only the loopback address may read them.
//
// The pages are read-only: nothing is started from them. A run page opens
// with a signed, expiring link (the links dayops posts in chat and on GitHub)
// or, for every page, after a login: a reverse proxy's user header from a
// trusted address, or a shared password. With neither configured only signed
// links open anything.
//
// A long log is never sent to a browser at once: the page shows its tail,
// pages back through it, searches it on the server and downloads it as
// streamed text. Every text passes the Redactor.
package web
