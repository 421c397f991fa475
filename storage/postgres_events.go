package storage

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgConfig is how the store opens a PostgreSQL connection of its own.
type pgConfig = *pgx.ConnConfig

// listen hears the other replicas' run events (events.go) on a connection
// of its own, LISTENing on eventsChannel, until Close; a lost connection is
// opened again, and what may have passed meanwhile is caught up.
func (e *Events) listen() {
	defer e.wg.Done()
	wait := 100 * time.Millisecond
	for e.ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(e.ctx, e.s.pgcfg)
		if err == nil {
			_, err = conn.Exec(e.ctx, "LISTEN "+eventsChannel)
		}
		if err == nil {
			wait = 100 * time.Millisecond
			e.hear.Do(func() { close(e.heard) })
			e.catchUp()
			for {
				got, werr := conn.WaitForNotification(e.ctx)
				if werr != nil {
					err = werr
					break
				}
				e.receive(got.Payload)
			}
		}
		if conn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			conn.Close(ctx)
			cancel()
		}
		if e.ctx.Err() != nil {
			return
		}
		e.log.Warn("run events: listening to the other replicas, trying again", "in", wait, "err", pgMessage(err))
		select {
		case <-time.After(wait):
		case <-e.ctx.Done():
			return
		}
		wait = min(2*wait, 5*time.Second)
	}
}
