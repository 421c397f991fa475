package dayops

import "strings"

// maxSuggestRunes bounds the work Suggest does: a word this long is no typo.
const maxSuggestRunes = 64

// Suggest returns the candidate that word most likely misspells, or "" when
// none is close. Comparison ignores case. A candidate is close when its
// optimal string alignment distance (Levenshtein plus adjacent
// transpositions, so "deplyo" is one edit from "deploy") is at most
// max(1, len(word)/3) characters, or when one of the two is a prefix of the
// other and the shorter has at least three characters ("dep", "deployment"
// for "deploy"). Fewer edits win; among equals a prefix match wins ("statu"
// is "status", not "stats"), then the nearer length, then the earlier
// candidate, so answers are stable.
func Suggest(word string, candidates []string) string {
	w := []rune(strings.ToLower(word))
	if len(w) == 0 || len(w) > maxSuggestRunes {
		return ""
	}
	limit := max(1, len(w)/3)
	best, bestScore, bestPrefix, bestDiff := "", limit+2, false, 0
	for _, cand := range candidates {
		c := []rune(strings.ToLower(cand))
		if len(c) == 0 || len(c) > maxSuggestRunes {
			continue
		}
		diff := abs(len(w) - len(c))
		prefix := isPrefix(w, c)
		score := -1
		if diff <= limit {
			if d := osa(w, c); d <= limit {
				score = d
			}
		}
		if score < 0 && prefix {
			score = limit + 1
		}
		if score < 0 {
			continue
		}
		better := score < bestScore
		if score == bestScore {
			better = (prefix && !bestPrefix) || (prefix == bestPrefix && diff < bestDiff)
		}
		if better {
			best, bestScore, bestPrefix, bestDiff = cand, score, prefix, diff
		}
	}
	return best
}

// isPrefix reports whether the shorter of a and b, at least three runes
// long, begins the longer.
func isPrefix(a, b []rune) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	if len(a) < 3 {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// osa is the optimal string alignment distance between a and b.
func osa(a, b []rune) int {
	prev2 := make([]int, len(b)+1) // row i-2
	prev := make([]int, len(b)+1)  // row i-1
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
