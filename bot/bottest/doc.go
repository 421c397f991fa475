// Package bottest holds the fakes that tests of the bot and of its doors
// share: an Engine, a Store and Catalogs that answer from plain data, a Door
// that records what it is sent and can fail on request, and a small world
// (roles, a catalog) to run them in. Hand-written, no mocks: they record what
// they were asked and answer what the test set.
package bottest
