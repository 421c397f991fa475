package storagetest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
)

func testReports(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	run := NewRun("deploy-web", "staging", dayops.RunRunning)
	run.Trigger = dayops.TriggerAlert
	run.Context = map[string]string{dayops.ContextAlertName: "HighErrorRate", "pr.number": "12"}
	MustCreate(t, s, run)
	got, err := s.Run(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Trigger != dayops.TriggerAlert || !cmp.Equal(got.Context, run.Context) {
		t.Errorf("trigger %s context %v", got.Trigger, got.Context)
	}
	if err := s.Audit(ctx, dayops.AuditEvent{Actor: "trigger:alert", Action: "command.run", Trigger: dayops.TriggerAlert}); err != nil {
		t.Fatal(err)
	}
	evs, err := s.AuditEvents(ctx, dayops.AuditFilter{Limit: 1})
	if err != nil || len(evs) != 1 || evs[0].Trigger != dayops.TriggerAlert {
		t.Errorf("audit %+v %v", evs, err)
	}

	rep := dayops.Report{RunID: run.ID, Thread: dayops.Thread{Door: "slack", Channel: "C01", Name: "deploys", ID: "1.2"}}
	for i, want := range []bool{true, false} {
		added, err := s.AddReport(ctx, rep)
		if err != nil || added != want {
			t.Fatalf("AddReport #%d = %v, %v; want %v", i+1, added, err, want)
		}
	}
	open1, err := s.UnfinishedReports(ctx, 0)
	if err != nil || len(open1) != 1 || open1[0].Thread.Message != "" {
		t.Fatalf("unfinished %+v %v", open1, err)
	}
	rep.Thread.Message = "1.3"
	rep.Refs = map[string]string{"comment_id": "99"}
	rep.Shown, rep.ShownAt = dayops.RunSucceeded, clk.Now()
	if err := s.UpdateReport(ctx, rep); err != nil {
		t.Fatal(err)
	}
	list, err := s.Reports(ctx, run.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("reports %+v %v", list, err)
	}
	if g := list[0]; g.Thread != rep.Thread || g.Refs["comment_id"] != "99" || g.Shown != dayops.RunSucceeded || !g.ShownAt.Equal(rep.ShownAt) {
		t.Errorf("stored %+v, want %+v", g, rep)
	}
	if open2, _ := s.UnfinishedReports(ctx, 0); len(open2) != 0 {
		t.Errorf("a report showing the end is still unfinished: %+v", open2)
	}
	other := rep
	other.Thread.ID = "nope"
	WantKind(t, s.UpdateReport(ctx, other), dayops.KindNotFound)
	WantKind(t, func() error { _, err := s.AddReport(ctx, dayops.Report{RunID: 999999, Thread: rep.Thread}); return err }(), dayops.KindNotFound)
}
