package console

import (
	"bufio"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLineLongerThanTheBuffer: a pasted megabyte is answered with an error
// that says how long it was, and the next command is answered.
func TestLineLongerThanTheBuffer(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	got := session(t, "/ops "+long+"\n/ops list\n", false)
	for _, want := range []string{
		"-- that line is 1048581 bytes; commands are at most 4000 bytes, so it was not read\n",
		"alice > /ops list\nbot > 2 definitions at revision 0123456789ab\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("transcript lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "xxxx") {
		t.Errorf("the long line was echoed or answered")
	}
}

func TestReadLine(t *testing.T) {
	type line struct {
		Text string
		Size int
	}
	for _, tt := range []struct {
		name, in string
		want     []line
	}{
		{"lines", "a\nbc\n", []line{{"a", 1}, {"bc", 2}}},
		{"crlf", "a\r\nbc\r\n", []line{{"a", 1}, {"bc", 2}}},
		{"last line without newline", "a\nbc", []line{{"a", 1}, {"bc", 2}}},
		{"empty lines", "\n\n", []line{{"", 0}, {"", 0}}},
		{"at the limit", "12345678\n", []line{{"12345678", 8}}},
		{"at the limit with crlf", "12345678\r\n", []line{{"12345678", 8}}},
		{"one over", "123456789\nok\n", []line{{"", 9}, {"ok", 2}}},
		{"far over the reader's buffer", strings.Repeat("y", 10000) + "\r\nok", []line{{"", 10000}, {"ok", 2}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := bufio.NewReaderSize(strings.NewReader(tt.in), 16)
			var got []line
			for {
				text, size, err := readLine(r, 8)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, line{text, size})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}
