package dayops

import "testing"

func TestSuggest(t *testing.T) {
	verbs := []string{"help", "list", "describe", "plan", "run", "deploy", "rollback", "status", "history",
		"approve", "deny", "cancel", "lock", "unlock", "sync", "stats", "whoami"} // the chat verbs
	envs := []string{"staging", "production", "dev"}
	keys := []string{"steps", "rollback", "triggers", "timeout", "env", "environments"}
	tests := []struct {
		word       string
		candidates []string
		want       string
	}{
		{"deplyo", verbs, "deploy"},     // transposition
		{"depoy", verbs, "deploy"},      // deletion
		{"deployy", verbs, "deploy"},    // insertion
		{"DEPLOY", verbs, "deploy"},     // case
		{"dep", verbs, "deploy"},        // prefix
		{"deployment", verbs, "deploy"}, // candidate is a prefix
		{"histroy", verbs, "history"},
		{"lst", verbs, "list"},
		{"unlcok", verbs, "unlock"},
		{"stat", verbs, "stats"},   // one edit beats status' two
		{"statu", verbs, "status"}, // one edit each way; the prefix wins
		{"stas", verbs, "stats"},
		{"who", verbs, "whoami"},
		{"lock", verbs, "lock"}, // exact
		{"x", verbs, ""},
		{"zz", verbs, ""},
		{"frobnicate", verbs, ""},
		{"", verbs, ""},
		{"deploy", nil, ""},
		{"deploy", []string{""}, ""},
		{"prod", envs, "production"},
		{"stagign", envs, "staging"},
		{"qa", envs, ""},
		{"Staging", []string{"Staging"}, "Staging"}, // returns the candidate as given
		// Keys of a definition, as the loader suggests them.
		{"stpes", keys, "steps"},
		{"step", keys, "steps"},
		{"Steps", keys, "steps"},
		{"rolback", keys, "rollback"},
		{"trigger", keys, "triggers"},
		{"enviroments", keys, "environments"},
		{"evn", keys, "env"},
		{"description", keys, ""},
		{"x", keys, ""},
	}
	for _, tt := range tests {
		if got := Suggest(tt.word, tt.candidates); got != tt.want {
			t.Errorf("Suggest(%q, %q) = %q, want %q", tt.word, tt.candidates, got, tt.want)
		}
	}
}

func TestOSA(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"abc", "abc", 0},
		{"abc", "acb", 1},
		{"ca", "abc", 3}, // OSA, unlike true Damerau-Levenshtein (2)
		{"kitten", "sitting", 3},
		{"日本", "本日", 1},
	}
	for _, tt := range tests {
		if got := osa([]rune(tt.a), []rune(tt.b)); got != tt.want {
			t.Errorf("osa(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
