package web

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/dayops/dayops"
)

// Chart geometry in SVG user units: the plot area and the room left for
// the labels around it.
const (
	chartWidth  = 270
	chartHeight = 130
	chartLeft   = 34 // room for the y labels
	chartBottom = 18 // room for the x labels
	chartTop    = 8
)

// insightsView is the /insights page.
type insightsView struct {
	page
	Now       time.Time
	Service   string
	Windows   []string // "7 days", …
	Longest   string
	Groups    []insightGroupView
	Truncated bool
	How       []howView
}

type howView struct{ Figure, How string }

type insightGroupView struct {
	Service, Environment string
	Rows                 []figureRow
	Charts               []chart
}

// figureRow is one figure over every window.
type figureRow struct {
	Figure string
	Values []string
}

// chart is one bar chart of a figure's weekly values, drawn as SVG on the
// server.
type chart struct {
	Title          string
	Width, Height  int
	Bars           []bar
	Top            string // the label of the top of the y axis
	From, To       string // the labels under the first and the last bar
	PlotX, PlotY   int
	PlotW, PlotH   int
	BaseY, LabelY  int
	AxisTextX      int
	ToX            int
	Empty          bool // no bar has a value
	EmptyX, EmptyY int
}

// bar is one week: its rectangle and what a hover shows.
type bar struct {
	X, Y, W, H float64
	Title      string
	Missing    bool // no value that week (no deploy, no merged pull request)
}

// insightsPage serves /insights: the DORA figures of every service and
// environment (or of ?service=NAME) over 7, 30 and 90 days, with a chart
// of each figure's last 13 weeks.
func (s *Server) insightsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := s.now()
	service := strings.TrimSpace(r.URL.Query().Get("service"))
	runs, truncated, err := dayops.DeployRuns(ctx, s.opts.Store, service, now.Add(-dayops.InsightSpan))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	in := dayops.ComputeInsights(runs, now)
	v := insightsView{page: page{Title: "Insights", User: viewerOf(ctx).User}, Now: now, Service: service, Truncated: truncated,
		How: []howView{
			{"Deployment frequency", dayops.HowDeploymentFrequency},
			{"Lead time for changes", dayops.HowLeadTime},
			{"Change failure rate", dayops.HowChangeFailureRate},
			{"Time to restore", dayops.HowTimeToRestore},
		}}
	for _, d := range dayops.InsightWindows {
		v.Windows = append(v.Windows, fmt.Sprintf("%d days", int(d/(24*time.Hour))))
	}
	v.Longest = v.Windows[len(v.Windows)-1]
	for _, g := range in.Groups {
		gv := insightGroupView{Service: s.redact(g.Service), Environment: s.redact(g.Environment)}
		for _, f := range []struct {
			name string
			text func(dayops.DORA) string
		}{
			{"Deployment frequency", dayops.DORA.FrequencyText},
			{"Lead time for changes", dayops.DORA.LeadTimeText},
			{"Change failure rate", dayops.DORA.FailureRateText},
			{"Time to restore", dayops.DORA.RestoreText},
		} {
			row := figureRow{Figure: f.name}
			for _, d := range g.Windows {
				row.Values = append(row.Values, f.text(d))
			}
			gv.Rows = append(gv.Rows, row)
		}
		gv.Charts = weeklyCharts(g.Weeks)
		v.Groups = append(v.Groups, gv)
	}
	s.render(w, http.StatusOK, "insights.html", v)
}

// weeklyCharts are the four figures of weeks, one chart each.
func weeklyCharts(weeks []dayops.DORA) []chart {
	hours := func(d time.Duration, ok bool) (float64, bool) { return d.Hours(), ok }
	return []chart{
		newChart("Deploys per week", weeks, func(d dayops.DORA) (float64, bool) { return float64(d.Deploys), true },
			func(v float64) string { return fmt.Sprintf("%.0f", v) }, func(d dayops.DORA) string { return plural(d.Deploys, "deploy") }),
		newChart("Lead time for changes (median, hours)", weeks, func(d dayops.DORA) (float64, bool) { return hours(d.LeadTime()) },
			hoursLabel, dayops.DORA.LeadTimeText),
		newChart("Change failure rate (%)", weeks, func(d dayops.DORA) (float64, bool) {
			r, ok := d.FailureRate()
			return r * 100, ok
		}, func(v float64) string { return fmt.Sprintf("%.0f%%", v) }, dayops.DORA.FailureRateText),
		newChart("Time to restore (median, hours)", weeks, func(d dayops.DORA) (float64, bool) { return hours(d.TimeToRestore()) },
			hoursLabel, dayops.DORA.RestoreText),
	}
}

func hoursLabel(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.1fh", v)
	}
	return fmt.Sprintf("%.0fh", v)
}

func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}

// newChart lays out one bar per week, scaled to the largest value; a week
// without a value gets a small grey mark instead of a bar.
func newChart(title string, weeks []dayops.DORA, value func(dayops.DORA) (float64, bool), label func(float64) string, text func(dayops.DORA) string) chart {
	c := chart{Title: title, Width: chartWidth, Height: chartHeight, PlotX: chartLeft, PlotY: chartTop,
		PlotW: chartWidth - chartLeft - 4, PlotH: chartHeight - chartTop - chartBottom}
	c.BaseY = c.PlotY + c.PlotH
	c.LabelY = chartHeight - 4
	c.AxisTextX = chartLeft - 4
	c.ToX = c.PlotX + c.PlotW
	top := 0.0
	vals := make([]float64, len(weeks))
	oks := make([]bool, len(weeks))
	for i, w := range weeks {
		vals[i], oks[i] = value(w)
		if oks[i] {
			top = math.Max(top, vals[i])
		}
	}
	c.Empty = top == 0
	if top == 0 {
		top = 1
	}
	c.Top = label(top)
	c.EmptyX, c.EmptyY = c.PlotX+c.PlotW/2, c.PlotY+c.PlotH/2
	if len(weeks) == 0 {
		return c
	}
	slot := float64(c.PlotW) / float64(len(weeks))
	for i, w := range weeks {
		b := bar{X: round1(float64(c.PlotX) + float64(i)*slot + slot*0.15), W: round1(slot * 0.7)}
		b.Title = fmt.Sprintf("week to %s: %s", w.To.UTC().Format("Jan 2"), text(w))
		if !oks[i] {
			b.Missing, b.H = true, 2
		} else {
			b.H = round1(vals[i] / top * float64(c.PlotH))
		}
		b.Y = round1(float64(c.BaseY) - b.H)
		c.Bars = append(c.Bars, b)
	}
	c.From = weeks[0].From.UTC().Format("Jan 2")
	c.To = weeks[len(weeks)-1].To.UTC().Format("Jan 2")
	return c
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }
