package dayops

import "testing"

func TestStepEnvName(t *testing.T) {
	tests := []struct{ id, want string }{
		{"build", "BUILD"},
		{"build-x", "BUILD_X"},
		{"build_x", "BUILD_X"},
		{"a-1_b", "A_1_B"},
	}
	for _, tt := range tests {
		if got := StepEnvName(tt.id); got != tt.want {
			t.Errorf("StepEnvName(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
}
