package bot_test

import (
	"context"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/bottest"
)

var (
	alice = bottest.Alice
	bob   = bottest.Bob
	carol = bottest.Carol
	dave  = bottest.Dave

	here = dayops.Thread{Door: "test", Channel: "terminal", ID: "1"}
)

// world is a bot wired to fakes.
type world struct {
	bot    *bot.Bot
	engine *bottest.Engine
	store  *bottest.Store
	cats   *bottest.Catalogs
	door   *bottest.Door
	bus    *dayops.Bus
}

var testNow = time.Date(2025, 3, 1, 12, 5, 0, 0, time.UTC)

func newWorld(t *testing.T, change ...func(*bot.Options)) *world {
	t.Helper()
	store := &bottest.Store{}
	w := &world{
		engine: &bottest.Engine{Store: store},
		store:  store,
		cats:   &bottest.Catalogs{Cat: bottest.Catalog(t)},
		door:   &bottest.Door{DoorName: "test"},
		bus:    dayops.NewBus(),
	}
	opts := bot.Options{
		Engine: w.engine, Store: store, Catalogs: w.cats, Policy: bottest.Policy(), Events: w.bus,
		Redactor: dayops.NewRedactor("hunter2-secret"), BaseURL: "https://dayops.example.com/",
		Now: func() time.Time { return testNow },
	}
	for _, c := range change {
		c(&opts)
	}
	b, err := bot.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	b.Register(w.door)
	w.bot = b
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return w
}

func (w *world) say(who dayops.Actor, text string) {
	w.bot.Handle(context.Background(), bot.Request{Actor: who, Thread: here, Text: text})
}
