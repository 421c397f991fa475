package dayops

import "testing"

func TestEnvName(t *testing.T) {
	tests := []struct{ id, want string }{
		{"build", "BUILD"},
		{"build-x", "BUILD_X"},
		{"build_x", "BUILD_X"},
		{"a-1_b", "A_1_B"},
	}
	for _, tt := range tests {
		if got := EnvName(tt.id); got != tt.want {
			t.Errorf("EnvName(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
}

func TestEnvironmentPattern(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"staging", true},
		{"prod_eu", true},
		{"eu-west-1", true},
		{"0", true},
		{"Prod", false},
		{"_prod", false},
		{"-prod", false},
		{"", false},
		{"prod eu", false},
	}
	for _, tt := range tests {
		if got := EnvironmentPattern.MatchString(tt.name); got != tt.want {
			t.Errorf("EnvironmentPattern.MatchString(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
