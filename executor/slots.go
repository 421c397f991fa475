package executor

import "sync"

// slots are the MaxParallel places where the segments of top-level runs run.
// They go to runs in the order the runs came to this executor (Start, or a
// take-over in Recover), not in the order their goroutines happen to ask for
// one: a run that was started and is still on its way to a slot (recording
// that it is queued, reading its concurrency key and its environment's lock)
// keeps its place in line. So runs started one after the other with
// MaxParallel 1 run in that order, whatever the scheduler does. A run that
// waits for something else (its concurrency key, a lock, an approval) gives
// up its place while it waits and asks again with its arrival number, ahead
// of runs that came after it.
type slots struct {
	mu        sync.Mutex
	free      int
	next      int64                   // the last arrival number handed out
	waiting   map[int64]chan struct{} // arrival -> closed when it has a slot
	preparing map[int64]struct{}      // arrivals on their way to a slot
}

func newSlots(n int) *slots {
	return &slots{free: n, waiting: map[int64]chan struct{}{}, preparing: map[int64]struct{}{}}
}

// arrive gives a run its arrival number. A run that is about to ask for a
// slot (not one that waits for an approval) keeps its place from now on.
func (s *slots) arrive(preparing bool) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	if preparing {
		s.preparing[s.next] = struct{}{}
	}
	return s.next
}

// settle gives up the place of a run that is not about to ask for a slot
// after all: it waits for its turn or an approval, or it ended.
func (s *slots) settle(n int64) {
	if n == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.preparing[n]; ok {
		delete(s.preparing, n)
		s.grant()
	}
}

// take waits for a slot for arrival n; give returns it.
func (s *slots) take(n int64) {
	ch := make(chan struct{})
	s.mu.Lock()
	delete(s.preparing, n)
	s.waiting[n] = ch
	s.grant()
	s.mu.Unlock()
	<-ch
}

func (s *slots) give() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free++
	s.grant()
}

// grant hands free slots to the earliest waiting arrivals, as long as no
// earlier arrival is still on its way. s.mu is held.
func (s *slots) grant() {
	for s.free > 0 && len(s.waiting) > 0 {
		first := int64(-1)
		for n := range s.waiting {
			if first < 0 || n < first {
				first = n
			}
		}
		for n := range s.preparing {
			if n < first {
				return // its turn comes first: it will ask in a moment
			}
		}
		close(s.waiting[first])
		delete(s.waiting, first)
		s.free--
	}
}
