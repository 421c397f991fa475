package dayops

import (
	"testing"
	"time"
	_ "time/tzdata" // DST cases must not depend on the host's zone files
)

func TestParseCron(t *testing.T) {
	tests := []struct {
		spec    string
		wantErr string
	}{
		{spec: "0 3 * * *"},
		{spec: "*/15 2-4 1,15 * *"},
		{spec: "0 6 * * mon-fri"},
		{spec: "0 6 * JAN-Mar SUN"},
		{spec: "5,10-20/5,59 * * * 7"},
		{spec: "  0   0  *  *  *  "},
		{spec: "@daily"},
		{spec: "@HOURLY"},
		{spec: "@yearly"},
		{spec: "@annually"},
		{spec: "@monthly"},
		{spec: "@weekly"},
		{spec: "@midnight"},
		{spec: "0 0 29 2 *"},
		{spec: "0 0 31 4 mon"}, // both day fields restricted: Mondays in April
		{spec: "1/10 * * * *"},
		{spec: "0 3 * *", wantErr: "a schedule has 5 fields (minute hour day-of-month month day-of-week), not 4"},
		{spec: "", wantErr: "a schedule has 5 fields (minute hour day-of-month month day-of-week), not 0"},
		{spec: "60 * * * *", wantErr: "minute 60 is out of range 0-59"},
		{spec: "* 24 * * *", wantErr: "hour 24 is out of range 0-23"},
		{spec: "* * 32 * *", wantErr: "day of month 32 is out of range 1-31"},
		{spec: "* * * 0 *", wantErr: "month 0 is out of range 1-12"},
		{spec: "* * * * 8", wantErr: "day of week 8 is out of range 0-7"},
		{spec: "-1 * * * *", wantErr: `minute "" is not a number from 0 to 59`},
		{spec: "+1 * * * *", wantErr: `minute "+1" is not a number from 0 to 59`},
		{spec: "*/0 * * * *", wantErr: `minute step "0" must be a number from 1 to 59`},
		{spec: "*/x * * * *", wantErr: `minute step "x" must be a number from 1 to 59`},
		{spec: "10-5 * * * *", wantErr: "minute range 10-5 goes backwards"},
		{spec: "1,,2 * * * *", wantErr: `minute "" is not a number from 0 to 59`},
		{spec: "* * * foo *", wantErr: `month "foo" is not a number from 1 to 12 or a name (jan–dec)`},
		{spec: "0 0 30 2 *", wantErr: "the schedule never fires: none of its months has that day"},
		{spec: "0 0 31 feb,apr *", wantErr: "the schedule never fires: none of its months has that day"},
		{spec: "@reboot", wantErr: "unknown shorthand @reboot: use @yearly, @monthly, @weekly, @daily or @hourly"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := ParseCron(tt.spec)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("ParseCron(%q) error = %q, want %q", tt.spec, got, tt.wantErr)
			}
		})
	}
}

func TestCronScheduleNext(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse("2006-01-02 15:04:05", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	in := func(loc *time.Location, s string) time.Time {
		t.Helper()
		v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name string
		spec string
		from time.Time
		want []time.Time // successive firings
	}{
		{"daily at 3", "0 3 * * *", utc("2025-01-01 02:59:59"),
			[]time.Time{utc("2025-01-01 03:00:00"), utc("2025-01-02 03:00:00"), utc("2025-01-03 03:00:00")}},
		{"strictly after", "0 3 * * *", utc("2025-01-01 03:00:00"), []time.Time{utc("2025-01-02 03:00:00")}},
		{"seconds are dropped", "* * * * *", utc("2025-01-01 10:00:30"), []time.Time{utc("2025-01-01 10:01:00"), utc("2025-01-01 10:02:00")}},
		{"every 15 between 2 and 4 on the 1st and 15th", "*/15 2-4 1,15 * *", utc("2025-03-01 04:40:00"),
			[]time.Time{utc("2025-03-01 04:45:00"), utc("2025-03-15 02:00:00"), utc("2025-03-15 02:15:00")}},
		{"weekdays", "0 6 * * mon-fri", utc("2025-06-06 07:00:00"), // a Friday
			[]time.Time{utc("2025-06-09 06:00:00"), utc("2025-06-10 06:00:00")}},
		{"sunday as 7", "30 12 * * 7", utc("2025-06-01 13:00:00"), []time.Time{utc("2025-06-08 12:30:00")}},
		{"year end wraps", "0 0 1 1 *", utc("2025-12-31 23:59:00"), []time.Time{utc("2026-01-01 00:00:00"), utc("2027-01-01 00:00:00")}},
		{"leap day", "0 0 29 2 *", utc("2025-03-01 00:00:00"), []time.Time{utc("2028-02-29 00:00:00"), utc("2032-02-29 00:00:00")}},
		{"leap day across 2100", "0 0 29 2 *", utc("2097-01-01 00:00:00"), []time.Time{utc("2104-02-29 00:00:00")}},
		// Both day fields restricted: the 13th OR any Friday (Vixie cron).
		{"dom or dow", "0 0 13 * fri", utc("2025-06-01 00:00:00"),
			[]time.Time{utc("2025-06-06 00:00:00"), utc("2025-06-13 00:00:00"), utc("2025-06-20 00:00:00")}},
		// Only one restricted: both must hold (every 13th that is... any day, since dow is *).
		{"dom with star dow", "0 0 13 * *", utc("2025-06-01 00:00:00"), []time.Time{utc("2025-06-13 00:00:00"), utc("2025-07-13 00:00:00")}},
		{"31st skips short months", "0 0 31 * *", utc("2025-04-01 00:00:00"), []time.Time{utc("2025-05-31 00:00:00"), utc("2025-07-31 00:00:00")}},
		{"hourly", "@hourly", utc("2025-01-01 10:59:00"), []time.Time{utc("2025-01-01 11:00:00"), utc("2025-01-01 12:00:00")}},
		{"location kept", "0 9 * * *", in(ny, "2025-01-10 10:00"), []time.Time{in(ny, "2025-01-11 09:00")}},
		// 2025-03-09 02:00-03:00 does not exist in New York: 02:30 is skipped that day.
		{"spring forward gap", "30 2 * * *", in(ny, "2025-03-08 03:00"), []time.Time{in(ny, "2025-03-10 02:30")}},
		{"every minute over the gap", "*/30 * * * *", in(ny, "2025-03-09 01:15"),
			[]time.Time{in(ny, "2025-03-09 01:30"), in(ny, "2025-03-09 03:00"), in(ny, "2025-03-09 03:30")}},
		// 2025-11-02 01:00-02:00 happens twice: it fires once.
		{"fall back repeats", "30 1 * * *", in(ny, "2025-11-02 00:00"),
			[]time.Time{time.Date(2025, 11, 2, 1, 30, 0, 0, ny), in(ny, "2025-11-03 01:30")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseCron(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			at := tt.from
			for i, want := range tt.want {
				got := s.Next(at)
				if !got.Equal(want) || got.Location() != want.Location() {
					t.Fatalf("firing %d after %s = %s, want %s", i+1, at, got, want)
				}
				at = got
			}
		})
	}
}

func TestCronScheduleNextNever(t *testing.T) {
	var zero Cron
	if got := zero.Next(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)); !got.IsZero() {
		t.Errorf("zero Cron fired at %s", got)
	}
}

func FuzzCron(f *testing.F) {
	for _, s := range []string{"0 3 * * *", "*/15 2-4 1,15 * *", "@daily", "0 0 29 2 *", "0 0 13 * fri", "1-5/2 * * jan-mar sun"} {
		f.Add(s)
	}
	from := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseCron(spec)
		if err != nil {
			return
		}
		next := s.Next(from)
		if next.IsZero() {
			t.Fatalf("%q parses but never fires", spec)
		}
		if !next.After(from) || next.Second() != 0 {
			t.Fatalf("%q: Next(%s) = %s", spec, from, next)
		}
	})
}
