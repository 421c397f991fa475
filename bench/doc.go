// Command bench measures the figures the dayops issues ask for, each next to
// a baseline measured in the same run on the same machine, and prints them as
// one table with the target and whether it was met:
//
//	go run ./bench          # the full run, under about two minutes
//	go run ./bench -quick   # smaller sizes and fewer repetitions, for smoke tests
//
// The figures are:
//
//   - step start overhead: runs of `true` steps through the real executor and
//     a real SQLite store, next to exec.Command("true").Run() and to
//     `bash -c true` (the executor runs every step with bash);
//   - log ingestion: lines per second stored through the executor's output
//     path and through storage.AppendLogs, next to a plain batched SQLite
//     insert loop (database/sql, the same driver, pragmas and table shape);
//   - memory: the heap of many runs queued behind one concurrency key, and
//     the peak heap of a run printing 1 MiB of output;
//   - gitsync: a no-op sync next to `git fetch` of the same repository over
//     HTTP (git http-backend on 127.0.0.1) and from a local path, a sync of a
//     new revision of 1,000 definitions, their load and validation alone,
//     push-to-catalog latency with Trigger, and the peak heap of a first sync
//     of a repository with 10,000 commits next to the maximum RSS of
//     `git clone` of the same repository;
//   - command line: `dayops run` of one `true` step, the built binary;
//   - Slack: the acknowledgement latency of signed slash commands that start
//     runs, next to a bare signature check, and the update rate of one run's
//     message while its step prints a lot;
//   - GitHub: the time from a signed pull request comment delivery to the
//     first step of its run started (the real intake, client, bot and
//     executor against a fake GitHub REST API over loopback), next to the
//     round trip of a bare X-Hub-Signature-256 check;
//   - SSH: the start overhead of a step on an SSH target (Debian's sshd,
//     started on 127.0.0.1 with keys of its own) next to `ssh host true` by
//     OpenSSH's client against the same server;
//   - web: the time to the first and the last byte of a run page whose log
//     has 1,000,000 lines and the peak heap serving it, next to the same for
//     a log of 1,000 lines; the download of that log as text; and the
//     latency of a log line from its publication to a live log client
//     (server-sent events), next to a bare Bus subscriber;
//   - replicas: runs started per second and the slash-command
//     acknowledgement p99 with one replica on SQLite, one on PostgreSQL and
//     two on PostgreSQL (each replica its own store connection, executor,
//     bot and Slack door; commands spread over them), in the same run. The
//     PostgreSQL rows need Debian's postgresql package (a throwaway cluster
//     is started); without it they are skipped with a note, except in CI.
//
// Every measurement is repeated and the median is reported. Everything is
// created in a temporary folder that is removed at the end; only Go, bash, the
// git CLI and OpenSSH (server and client) are needed, and only loopback
// addresses are used.
//
// The command imports modernc.org/sqlite directly, for the plain insert loop
// baseline; it is a measuring tool, not part of the server.
package main
