package spec

import (
	"slices"
	"strings"
	"testing"
)

// TestInterpolate follows the interpolation table of the compose
// specification, plus nucleus' stricter rule that an unset variable without
// a default is an error naming it.
func TestInterpolate(t *testing.T) {
	vars := map[string]string{"FOO": "first", "BAR": "", "DEF": "fallback"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	cases := []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "$FOO", want: "first"},
		{in: "${FOO}", want: "first"},
		{in: "pre${FOO}post", want: "prefirstpost"},
		{in: "$FOO.bar", want: "first.bar"},
		{in: "$FOO-bar", want: "first-bar"},
		// ${VAR:-default}: unset or empty -> default
		{in: "${FOO:-def}", want: "first"},
		{in: "${BAR:-def}", want: "def"},
		{in: "${UNSET:-def}", want: "def"},
		{in: "${UNSET:-}", want: ""},
		{in: "${UNSET:-default with spaces}", want: "default with spaces"},
		// ${VAR-default}: unset -> default
		{in: "${FOO-def}", want: "first"},
		{in: "${BAR-def}", want: ""},
		{in: "${UNSET-def}", want: "def"},
		// ${VAR:?err}: unset or empty -> error
		{in: "${FOO:?must be set}", want: "first"},
		{in: "${BAR:?must be set}", err: "required variable BAR is missing a value: must be set"},
		{in: "${UNSET:?must be set}", err: "required variable UNSET is missing a value: must be set"},
		// ${VAR?err}: unset -> error
		{in: "${BAR?must be set}", want: ""},
		{in: "${UNSET?must be set}", err: "required variable UNSET is missing a value: must be set"},
		{in: "${UNSET?}", err: "required variable UNSET is missing a value: it must be set"},
		// ${VAR:+replacement} / ${VAR+replacement}
		{in: "${FOO:+rep}", want: "rep"},
		{in: "${BAR:+rep}", want: ""},
		{in: "${BAR+rep}", want: "rep"},
		{in: "${UNSET+rep}", want: ""},
		// nesting
		{in: "${UNSET:-${FOO}}", want: "first"},
		{in: "${UNSET:-${UNSET2:-deep}}", want: "deep"},
		{in: "${UNSET-$DEF}", want: "fallback"},
		{in: "${UNSET?$FOO}", err: "required variable UNSET is missing a value: first"},
		{in: "${FOO:+${DEF}!}", want: "fallback!"},
		// $$ escapes, and $ that starts no variable is kept
		{in: "$$FOO", want: "$FOO"},
		{in: "$${FOO}", want: "${FOO}"},
		{in: "$$$FOO", want: "$first"},
		{in: "costs $5", want: "costs $5"},
		{in: "a $ b", want: "a $ b"},
		{in: "end$", want: "end$"},
		// errors
		{in: "$UNSET", err: "variable UNSET is not set"},
		{in: "${UNSET}", err: "variable UNSET is not set"},
		{in: "$FOO_BAR", err: "variable FOO_BAR is not set"},
		{in: "${FOO", err: "missing closing brace"},
		{in: "${}", err: "expected a variable name"},
		{in: "${1A}", err: "expected a variable name"},
		{in: "${FOO/a/b}", err: "unsupported operator \"/\""},
		{in: "${FOO:}", err: "expected :-, -, :?, ?, :+ or + after FOO"},
	}
	for _, tc := range cases {
		got, err := interpolate(tc.in, lookup)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("interpolate(%q) error = %v, want one containing %q", tc.in, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("interpolate(%q): unexpected error %v", tc.in, err)
		case tc.err == "" && got != tc.want:
			t.Errorf("interpolate(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestInterpolationSources: the process environment wins over .env, keys
// are never interpolated, and .env values may use earlier ones.
func TestInterpolationSources(t *testing.T) {
	p := mustLoad(t, map[string]string{
		".env": "# comment\nexport TAG=from-dotenv\nPORT=8080\nBOTH=dotenv\nURL=\"http://h:${PORT}/\"\nQUOTED='$LITERAL'\n",
		"nucleus.yaml": `
services:
  web:
    command: ["serve", "${TAG}", "$PORT", "${BOTH}", "$${NOT}"]
    environment:
      ${KEY}: value
      URL: ${URL}
      Q: ${QUOTED}
`,
	}, map[string]string{"BOTH": "process"})
	s := p.Services["web"]
	if got := strings.Join(s.Command, " "); got != "serve from-dotenv 8080 process ${NOT}" {
		t.Errorf("command = %q", got)
	}
	if s.Environment["${KEY}"] != "value" {
		t.Errorf("keys must not be interpolated: %v", s.Environment)
	}
	if s.Environment["URL"] != "http://h:8080/" || s.Environment["Q"] != "$LITERAL" {
		t.Errorf(".env interpolation: %v", s.Environment)
	}
	if !slices.Contains(p.WatchFiles, p.Dir+"/.env") {
		t.Errorf("WatchFiles %v lacks .env", p.WatchFiles)
	}
}
