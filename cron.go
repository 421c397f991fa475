package dayops

import (
	"strconv"
	"strings"
	"time"
)

// Cron is a parsed cron expression of five fields: minute, hour, day of
// month, month and day of week. The zero Cron never fires.
type Cron struct {
	minute, hour, dom, month, dow uint64 // bit i set: value i matches
	// As in Vixie cron, when both day fields are restricted a day matches if
	// either does; when one of them is "*" only the other one counts.
	domStar, dowStar bool
}

var cronShorthands = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

type cronField struct {
	name     string
	min, max int
	names    []string // names for min, min+1, …
}

var cronFields = []cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{name: "day of week", min: 0, max: 7, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// ParseCron parses a 5-field cron expression ("minute hour day-of-month month
// day-of-week", each field "*", a number, a range "a-b", a list "a,b" and an
// optional step "/n"; months jan–dec and weekdays sun–sat by name; 0 and 7
// are Sunday) or a shorthand: @yearly, @annually, @monthly, @weekly, @daily,
// @midnight, @hourly. A schedule that can never fire (February 30) is an error.
func ParseCron(spec string) (Cron, error) {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "@") {
		full, ok := cronShorthands[strings.ToLower(spec)]
		if !ok {
			return Cron{}, Errorf(KindInvalid, "unknown shorthand %s: use @yearly, @monthly, @weekly, @daily or @hourly", Truncate(spec, 20))
		}
		spec = full
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return Cron{}, Errorf(KindInvalid, "a schedule has 5 fields (minute hour day-of-month month day-of-week), not %d", len(fields))
	}
	var s Cron
	sets := []*uint64{&s.minute, &s.hour, &s.dom, &s.month, &s.dow}
	for i, f := range fields {
		bits, err := cronFields[i].parse(f)
		if err != nil {
			return Cron{}, err
		}
		*sets[i] = bits
	}
	if s.dow&(1<<7) != 0 {
		s.dow = s.dow&^(1<<7) | 1 // 7 is Sunday too
	}
	s.domStar = strings.HasPrefix(fields[2], "*")
	s.dowStar = strings.HasPrefix(fields[4], "*")
	if s.dowStar && !s.domFits() {
		return Cron{}, Errorf(KindInvalid, "the schedule never fires: none of its months has that day")
	}
	return s, nil
}

// domFits reports whether some selected day of month exists in some selected
// month (February counting 29 days).
func (s Cron) domFits() bool {
	days := [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	for m := 1; m <= 12; m++ {
		if s.month&(1<<m) == 0 {
			continue
		}
		for d := 1; d <= days[m]; d++ {
			if s.dom&(1<<d) != 0 {
				return true
			}
		}
	}
	return false
}

func (f cronField) parse(field string) (uint64, error) {
	var bits uint64
	for _, item := range strings.Split(field, ",") {
		b, err := f.parseItem(item)
		if err != nil {
			return 0, err
		}
		bits |= b
	}
	return bits, nil
}

func (f cronField) parseItem(item string) (uint64, error) {
	rng, stepText, hasStep := strings.Cut(item, "/")
	lo, hi := f.min, f.max
	if f.name == "day of week" {
		hi = 6 // "*" means sun–sat once; 7 is only an alias
	}
	switch {
	case rng == "*":
	case strings.Contains(rng, "-"):
		a, b, _ := strings.Cut(rng, "-")
		var err error
		if lo, err = f.value(a); err != nil {
			return 0, err
		}
		if hi, err = f.value(b); err != nil {
			return 0, err
		}
		if lo > hi {
			return 0, Errorf(KindInvalid, "%s range %s goes backwards", f.name, Truncate(rng, 20))
		}
	default:
		v, err := f.value(rng)
		if err != nil {
			return 0, err
		}
		lo = v
		if !hasStep {
			hi = v
		}
	}
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepText)
		if err != nil || n < 1 || n > f.max {
			return 0, Errorf(KindInvalid, "%s step %q must be a number from 1 to %d", f.name, Truncate(stepText, 20), f.max)
		}
		step = n
	}
	var bits uint64
	for v := lo; v <= hi; v += step {
		bits |= 1 << v
	}
	return bits, nil
}

func (f cronField) value(s string) (int, error) {
	for i, n := range f.names {
		if strings.EqualFold(s, n) {
			return f.min + i, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") {
		if len(f.names) > 0 {
			return 0, Errorf(KindInvalid, "%s %q is not a number from %d to %d or a name (%s–%s)", f.name, Truncate(s, 20), f.min, f.max, f.names[0], f.names[len(f.names)-1])
		}
		return 0, Errorf(KindInvalid, "%s %q is not a number from %d to %d", f.name, Truncate(s, 20), f.min, f.max)
	}
	if n < f.min || n > f.max {
		return 0, Errorf(KindInvalid, "%s %d is out of range %d-%d", f.name, n, f.min, f.max)
	}
	return n, nil
}

// cronYears bounds the search of Next; it spans the longest gap between two
// February 29ths (2096 to 2104).
const cronYears = 9

// Next returns the first time strictly after t at which the schedule fires,
// in t's location, or the zero time when it never fires. Wall-clock times
// skipped by a daylight-saving change are skipped by the schedule too, and a
// wall-clock hour that repeats fires only in its first occurrence.
func (s Cron) Next(t time.Time) time.Time {
	loc := t.Location()
	t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, loc).Add(time.Minute)
	limit := t.Year() + cronYears
	for t.Year() <= limit {
		var next time.Time
		switch {
		case s.month&(1<<uint(t.Month())) == 0:
			next = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
		case !s.dayMatches(t):
			next = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
		case s.hour&(1<<uint(t.Hour())) == 0:
			next = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, loc)
		case s.minute&(1<<uint(t.Minute())) == 0:
			next = t.Add(time.Minute)
			if next.Minute() == 0 {
				next = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, loc)
			}
		default:
			return t
		}
		// time.Date may resolve a wall time in a daylight-saving gap to an
		// earlier instant; never go backwards.
		if !next.After(t) {
			next = t.Add(time.Minute)
		}
		t = next
	}
	return time.Time{}
}

func (s Cron) dayMatches(t time.Time) bool {
	dom := s.dom&(1<<uint(t.Day())) != 0
	dow := s.dow&(1<<uint(t.Weekday())) != 0
	if s.domStar || s.dowStar {
		return dom && dow
	}
	return dom || dow
}
