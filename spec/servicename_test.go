package spec

import (
	"strings"
	"testing"
)

// Service names are Compose's characters as DNS names: letters (either
// case), digits, ., _ and -, a letter or digit at both ends, no empty part
// between dots, at most 63 characters.
func TestServiceNames(t *testing.T) {
	ok := []string{"web", "Web", "api.v2", "a_b", "a-b.c_d", "x1", "9db", strings.Repeat("a", 63), "a.-b"}
	bad := []string{"", "-web", ".web", "_web", "web.", "web-", "web_", "a..b", "a/b", "a b", "wéb", strings.Repeat("a", 64)}
	for _, s := range ok {
		if !ValidServiceName(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range bad {
		if ValidServiceName(s) {
			t.Errorf("%q accepted", s)
		}
	}
	p := mustLoad(t, map[string]string{"nucleus.yaml": "name: shop\nservices:\n  api.v2:\n    command: [x]\n  Cache:\n    command: [x]\n    depends_on: [api.v2]\n"}, nil)
	if p.Services["api.v2"] == nil || p.Services["Cache"].Hostname != "Cache" {
		t.Errorf("services %v", p.Services)
	}
	for y, want := range map[string]string{
		"name: shop\nservices:\n  web: {command: [x]}\n  web.shop: {command: [x]}\n": `service name "web.shop" is also the DNS name web.shop of service web`,
		"services:\n  db: {command: [x]}\n  DB: {command: [x]}\n":                    `service names "db" and "DB" differ only in case`,
		"services:\n  web: {command: [x]}\n  WEB-1: {command: [x]}\n":                `service name "WEB-1" is also the name of replica 1 of service web`,
	} {
		if _, err := loadString(t, y); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v; want %q", y, err, want)
		}
	}
}
