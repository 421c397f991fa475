package slack

import (
	"context"
	"testing"

	"github.com/dayops/dayops"
)

func TestPermalink(t *testing.T) {
	w := newWorld(t)
	link, err := w.door.Permalink(context.Background(), dayops.Thread{Door: DoorName, Channel: "C111"}, "1700000000.000100")
	if err != nil || link != "https://acme.slack.com/archives/C111/p1700000000000100" {
		t.Errorf("Permalink = %q, %v", link, err)
	}
	if _, err := w.door.Permalink(context.Background(), dayops.Thread{Door: DoorName}, ""); dayops.KindOf(err) != dayops.KindInvalid {
		t.Errorf("a link without a channel or ts: %v, want invalid", err)
	}
}
